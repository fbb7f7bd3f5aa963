"""The default virt drivers (namespace ``nubis.virt``): ``fake`` and ``libvirt``."""
