"""The compute API layer front ends call (see :mod:`.api`)."""
