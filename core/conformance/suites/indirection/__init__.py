"""Suite of ``nubis.indirection``: where remotable object methods run.

The plugin (an oslo ``VersionedObjectIndirectionAPI``, built with no arguments) is
installed as the process's indirection API in an embedded deployment
(``nubis_indirection``): a fresh SQLite database, an ``inproc://`` transport of its
own and a real conductor service on its own topic, for plugins that send the calls
elsewhere (it runs whether the plugin uses it or not). The reference is the same
scenario run with no indirection at all (methods straight against the database): a
plugin must give the caller the same objects, the same changes and the same exception
classes, leave the caller's object untouched when a method fails, and serve many
threads at once. Calls go through a counting contract proxy, so a plugin that runs
nothing through its methods fails. No extras.
"""
