"""[scheduler] options: the scheduler service, its filters and weighers, and the
conductor's retry limit for builds."""

from oslo_config import cfg

from nubis.core.conf.service_options import service_group_opts

GROUP = cfg.OptGroup("scheduler", title="Scheduler service options")

OPTS: list[cfg.Opt] = service_group_opts("scheduler", "scheduler", periodic_tasks=[]) + [
    cfg.ListOpt(
        "enabled_filters",
        default=[
            "compute",
            "ram",
            "vcpu",
            "disk",
            "hypervisor_type",
            "server_group_affinity",
            "server_group_anti_affinity",
        ],
        mutable=True,
        help="Names of the filter plugins (namespace nubis.scheduler.filters) a compute "
        "node must pass to be chosen, run in this order. Put the filters that eliminate "
        "the most hosts first: later filters see fewer hosts. Without the two "
        "server_group_* filters the 'affinity' and 'anti-affinity' policies of server "
        "groups are not enforced.",
    ),
    cfg.ListOpt(
        "weighers",
        default=["ram", "server_group_soft_affinity", "server_group_soft_anti_affinity"],
        mutable=True,
        help="Names of the weigher plugins (namespace nubis.scheduler.weighers) that rank "
        "the nodes which passed the filters. Without the two server_group_soft_* "
        "weighers the 'soft-affinity' and 'soft-anti-affinity' policies of server groups "
        "have no effect.",
    ),
    cfg.FloatOpt(
        "ram_weight_multiplier",
        default=1.0,
        mutable=True,
        help="Multiplier of the 'ram' weigher's normalised weight. Positive values spread "
        "instances onto the nodes with the most free RAM; negative values stack them onto "
        "the fullest nodes first.",
    ),
    cfg.FloatOpt(
        "soft_affinity_weight_multiplier",
        default=1.0,
        min=0.0,
        mutable=True,
        help="Multiplier of the 'server_group_soft_affinity' weigher's normalised weight: "
        "how strongly a soft-affinity server group's instances are drawn to the hosts "
        "with the most of its members, against the other weighers (Nova's default, 1.0, "
        "weighs as much as the 'ram' weigher's spreading).",
    ),
    cfg.FloatOpt(
        "soft_anti_affinity_weight_multiplier",
        default=1.0,
        min=0.0,
        mutable=True,
        help="Multiplier of the 'server_group_soft_anti_affinity' weigher's normalised "
        "weight: how strongly a soft-anti-affinity server group's instances are pushed "
        "to the hosts with the fewest of its members (Nova's default, 1.0).",
    ),
    cfg.FloatOpt(
        "host_state_refresh_interval",
        default=1.0,
        min=0.0,
        mutable=True,
        help="Seconds the scheduler schedules on its cached view of the compute nodes "
        "and of service liveness before a request starts a refresh in the background "
        "(reading only the compute node rows changed since the last read, and one "
        "liveness snapshot). Between refreshes the scheduler subtracts its own choices "
        "from the cached nodes, so concurrent requests still spread. 0 starts a refresh "
        "at every request that finds none running.",
    ),
    cfg.IntOpt(
        "host_subset_size",
        default=1,
        min=1,
        mutable=True,
        help="Choose at random among this many of the best-weighed nodes instead of "
        "always the best one; larger values lower the chance that schedulers running "
        "in parallel pick the same node.",
    ),
    cfg.IntOpt(
        "max_attempts",
        default=3,
        min=1,
        mutable=True,
        help="Builds of one instance (the first plus reschedules to other hosts after a "
        "build failure) before the conductor gives up and puts the instance in error.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
