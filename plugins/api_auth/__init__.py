"""The ``nubis.api.auth`` plugins: ``noauth``, ``local`` (the embedded identity service,
the default) and ``keystone`` (keystonemiddleware)."""
