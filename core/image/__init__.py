"""The local image registry (see :mod:`nubis.core.image.api`)."""
