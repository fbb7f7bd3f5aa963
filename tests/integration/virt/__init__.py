"""The libvirt driver against real libvirtd hosts."""
