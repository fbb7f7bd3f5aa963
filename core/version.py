"""The service version and what RPC versions each service version speaks.

``SERVICE_VERSION`` is stored in every service record. Bump it whenever any rpcapi's
version changes and append a row to ``SERVICE_VERSION_HISTORY``: row *N* says which
version of each RPC API a service at version *N* understands. ``[upgrade_levels] X =
auto`` uses this table to cap messages at what the oldest running service understands.
"""

SERVICE_VERSION_HISTORY: tuple[dict[str, str], ...] = (
    # 0: a service too old to report a version; speak the first version of everything.
    {"baseapi": "1.0", "compute": "1.0", "conductor": "1.0", "compute_task": "1.0",
     "scheduler": "1.0"},
    # 1: nubis 0.1.
    {"baseapi": "1.0", "compute": "1.0", "conductor": "1.0", "compute_task": "1.0",
     "scheduler": "1.0"},
    # 2: compute 1.1 (live_migration takes the Migration).
    {"baseapi": "1.0", "compute": "1.1", "conductor": "1.0", "compute_task": "1.0",
     "scheduler": "1.0"},
    # 3: compute 1.2 (build_and_run_instance takes the RequestSpec, for reschedules);
    #    the conductor's compute_task API and the scheduler's select_destinations.
    {"baseapi": "1.0", "compute": "1.2", "conductor": "1.0", "compute_task": "1.0",
     "scheduler": "1.0"},
    # 4: compute 1.3 (get_console_output, rebuild_instance); compute_task 1.1
    #    (rebuild_instance).
    {"baseapi": "1.0", "compute": "1.3", "conductor": "1.0", "compute_task": "1.1",
     "scheduler": "1.0"},
    # 5: compute 1.4 (pause/unpause, suspend/resume, get_instance_diagnostics,
    #    get_host_uptime).
    {"baseapi": "1.0", "compute": "1.4", "conductor": "1.0", "compute_task": "1.1",
     "scheduler": "1.0"},
    # 6: compute 1.5 (snapshot_instance, backup_instance, shelve_instance,
    #    shelve_offload_instance, unshelve_instance); compute_task 1.2 (unshelve_instance).
    {"baseapi": "1.0", "compute": "1.5", "conductor": "1.0", "compute_task": "1.2",
     "scheduler": "1.0"},
    # 7: compute 1.6 (rescue_instance, unrescue_instance, soft_delete_instance,
    #    restore_instance).
    {"baseapi": "1.0", "compute": "1.6", "conductor": "1.0", "compute_task": "1.2",
     "scheduler": "1.0"},
)

SERVICE_VERSION = len(SERVICE_VERSION_HISTORY) - 1

#: The oldest service version this release runs beside during a rolling upgrade
#: (``nubis-status upgrade check`` fails on an older service record). Every rpcapi
#: still degrades to what version 1 understands; version 0 is a record that never
#: reported a version. Raise it when a release drops a degrade path.
MINIMUM_SERVICE_VERSION = 1

VERSION = "0.1.0"


def rpc_version_for(service_version: int, rpcapi: str) -> str:
    """Return the newest *rpcapi* version a service at *service_version* understands."""
    if service_version < 0:
        service_version = 0
    row = SERVICE_VERSION_HISTORY[min(service_version, SERVICE_VERSION)]
    return row[rpcapi]
