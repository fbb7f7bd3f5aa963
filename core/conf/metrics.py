"""[metrics] options: the Prometheus endpoint every nubis process may serve."""

from oslo_config import cfg

GROUP = cfg.OptGroup("metrics", title="Prometheus metrics endpoint (/metrics)")

OPTS: list[cfg.Opt] = [
    cfg.HostAddressOpt(
        "bind_host",
        default="127.0.0.1",
        help="Address the metrics endpoint listens on. 0.0.0.0 listens on every IPv4 "
        "address; the endpoint has no authentication, so expose it only to the network "
        "your Prometheus scrapes from.",
    ),
    cfg.PortOpt(
        "port",
        default=0,
        help="TCP port of this process's metrics endpoint (GET /metrics, Prometheus text "
        "format); 0 serves no endpoint. One endpoint per process, whatever services it "
        "runs (the all-in-one serves one for all of them): a deployment sets a "
        "different port for each process on a host, e.g. in each binary's own "
        "configuration file. A port already in use stops the process at start-up.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
