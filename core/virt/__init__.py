"""The virt driver contract: how nubis-compute talks to a hypervisor.

* :mod:`.driver` -- the abstract ComputeDriver (namespace ``nubis.virt``), InstanceInfo,
  the capability names;
* :mod:`.power_state` -- the power states drivers report;
* :mod:`.events` -- lifecycle and hypervisor-status events and their delivery;
* :mod:`.hardware` -- the resource dictionary a driver reports for each node;
* :mod:`.migration` -- the live-migration data, progress and outcome protocol;
* :mod:`.console` -- reading a guest's console log and cutting it to its last lines;
* :mod:`.driver_power` -- the contract's pause, suspend, diagnostics and host uptime;
* :mod:`.driver_rescue` -- the contract's rescue and unrescue;
* :mod:`.diagnostics` -- the diagnostics model a driver reports of a guest;
* :mod:`.uptime` -- a host's uptime as the ``uptime`` command prints it.
"""
