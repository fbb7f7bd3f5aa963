"""[DEFAULT] options shared by every nubis service."""

import socket

from oslo_config import cfg

OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "state_path",
        default="/var/lib/nubis",
        help="Directory where nubis keeps its state (the SQLite database of the embedded "
        "default, among others). Other options may refer to it as $state_path.",
    ),
    cfg.HostAddressOpt(
        "host",
        default=socket.gethostname(),
        sample_default="<current_hostname>",
        help="Name of this host as services and the message bus know it. Must be "
        "unique among compute hosts and valid as an AMQP routing key.",
    ),
    cfg.IntOpt(
        "report_interval",
        default=10,
        min=1,
        help="Seconds between a service's state reports to the servicegroup driver.",
    ),
    cfg.IntOpt(
        "service_down_time",
        default=60,
        min=1,
        help="Seconds since the last report after which a service counts as down. "
        "Values not above report_interval are raised to 2.5 x report_interval.",
    ),
    cfg.BoolOpt(
        "periodic_enable",
        default=True,
        help="Run the manager's periodic tasks.",
    ),
    cfg.IntOpt(
        "periodic_fuzzy_delay",
        default=60,
        min=0,
        help="Largest random delay, in seconds, before a service's first periodic "
        "task run, so that services started together do not run them in step.",
    ),
    cfg.IntOpt(
        "periodic_interval_max",
        default=60,
        min=1,
        help="Longest time the periodic task runner sleeps between checks.",
    ),
    cfg.IntOpt(
        "graceful_shutdown_timeout",
        default=60,
        min=0,
        mutable=True,
        help="Seconds a stopping process waits, in all, for its services to stop: "
        "in-flight calls and requests to finish, then each service's cleanup. What is "
        "still running then is abandoned as a crash would leave it (and tidied up at "
        "the next start); the process exits with status 1. 0 waits for ever.",
    ),
    cfg.IntOpt(
        "rpc_response_timeout_startup",
        default=60,
        min=1,
        help="Longest time a service waits at start for what it depends on: the "
        "message bus of transport_url to accept a connection, then (nubis-compute) a "
        "conductor to answer a ping. After that it exits with status 2 and one line "
        "saying what did not answer. SIGTERM and SIGINT stop it at once meanwhile.",
    ),
    cfg.IntOpt(
        "reclaim_instance_interval",
        default=0,
        help="Nova's deferred delete. When greater than 0, DELETE /servers/{id} "
        "soft-deletes a server (status SOFT_DELETED: its guest powered off, its disks "
        "and host resources kept, restorable with the restore action) and its compute "
        "host's reclaim_queued_deletes periodic task deletes it for good once it has "
        "been soft-deleted this many seconds. 0 (or less): servers are deleted at once. "
        "Set it alike on nubis-api and the compute hosts.",
    ),
    cfg.IntOpt(
        "shelved_offload_time",
        default=0,
        min=-1,
        help="Nova's option. Seconds a shelved server keeps its guest (powered off) and "
        "its host's resources before it is offloaded (guest removed, resources released, "
        "status SHELVED_OFFLOADED): 0 offloads it as soon as it is shelved; a longer time "
        "is waited out by the compute host's offload_shelved_instances periodic task; -1 "
        "never offloads it by itself (shelveOffload does). Read by the compute hosts.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {"DEFAULT": OPTS}
