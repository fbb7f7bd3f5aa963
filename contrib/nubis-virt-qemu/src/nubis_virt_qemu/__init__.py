"""nubis-virt-qemu: a hypervisor (``nubis.virt``) driver that runs QEMU directly over QMP.

The driver is :class:`nubis_virt_qemu.driver.QemuDriver`, installed as the entry point
``nubis.virt: qemu``; its options are ``[qemu]`` (:mod:`nubis_virt_qemu.conf`).
"""
