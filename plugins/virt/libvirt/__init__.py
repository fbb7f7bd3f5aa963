"""``libvirt``: the default virt driver, on libvirt-python (namespace ``nubis.virt``).

* :mod:`.conf` -- the ``[libvirt]`` options;
* :mod:`.host` -- the connection: libvirt's event loop thread, lifecycle events, the
  close callback and reconnection;
* :mod:`.guest_xml` -- the domain XML of an instance;
* :mod:`.qcow2` -- copy-on-write overlay images over a local base image;
* :mod:`.migration` -- one live migration: the job thread, progress, abort, timeout;
* :mod:`.driver` -- LibvirtDriver, the ComputeDriver.
"""
