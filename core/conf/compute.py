"""[compute] options: the compute service and its virt driver."""

from oslo_config import cfg

from nubis.core.conf._service_group import service_group_opts

GROUP = cfg.OptGroup("compute", title="Compute service options")

OPTS: list[cfg.Opt] = service_group_opts("compute", "compute", periodic_tasks=[]) + [
    cfg.StrOpt(
        "virt_driver",
        default="libvirt",
        help="Name of the hypervisor driver plugin (namespace nubis.virt).",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
