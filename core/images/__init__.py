"""The image files every service that touches images shares: nubis-api (the image
registry and its API) and the compute hosts (whose drivers write snapshots).

* :mod:`.store` -- the files ``<images_path>/<uuid>``: written through a ``.part`` file
  renamed into place, mode 0640, with size, MD5 and SHA-512 computed on the way, and
  the content checked; and how an Image record takes what was stored.

It imports nothing of the API or of a service, so a compute host (which must not
import :mod:`nubis.core.api`) uses it as the API does.
"""
