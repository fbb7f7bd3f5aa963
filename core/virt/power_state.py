"""Power states of a guest as a virt driver reports them (``InstanceInfo.state``).

The values are Nova's, so that a power state stored by nubis reads the same as one
stored by Nova. A driver maps its hypervisor's states onto these and nothing else;
``NOSTATE`` means the hypervisor could not say (never "the guest does not exist": that
is :class:`~nubis.core.exception.InstanceNotFound`).
"""

NOSTATE = 0x00
RUNNING = 0x01
PAUSED = 0x03
SHUTDOWN = 0x04  # the guest exists but is not running (powered off)
CRASHED = 0x06
SUSPENDED = 0x07

STATE_MAP = {
    NOSTATE: "pending",
    RUNNING: "running",
    PAUSED: "paused",
    SHUTDOWN: "shutdown",
    CRASHED: "crashed",
    SUSPENDED: "suspended",
}

ALL = frozenset(STATE_MAP)


def name(state: int) -> str:
    """Return the readable name of *state* (``"unknown(N)"`` for a value not listed)."""
    return STATE_MAP.get(state, f"unknown({state})")
