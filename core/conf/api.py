"""[api] options: nubis-api, the OpenStack Compute API service, and its image registry."""

from oslo_config import cfg

GROUP = cfg.OptGroup("api", title="The REST API service (nubis-api)")

OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "auth_strategy",
        default="local",
        help="Name of the authentication plugin (namespace nubis.api.auth): 'local' (the "
        "embedded Identity v3 token service, users managed with `nubis-manage user`), "
        "'keystone' (keystonemiddleware against a Keystone server, options in "
        "[keystone_authtoken]) or 'noauth' (tokens are 'user:project', for development; "
        "refuses to listen beyond loopback unless noauth_allow_remote is set).",
    ),
    cfg.HostAddressOpt(
        "listen",
        default="127.0.0.1",
        help="Address nubis-api listens on. 0.0.0.0 listens on every IPv4 address.",
    ),
    cfg.PortOpt("port", default=8774, help="TCP port nubis-api listens on (0: any free port)."),
    cfg.StrOpt(
        "public_endpoint",
        default="",
        help="Base URL clients reach nubis-api at, used in links and in the service "
        "catalog, e.g. http://api.example.com:8774. Empty: http://<listen>:<port> (with "
        "127.0.0.1 for a wildcard listen address). The Host header of a request is never "
        "used for this: set it whenever clients reach nubis-api by another name (a "
        "wildcard listen address, a proxy, TLS termination).",
    ),
    cfg.IntOpt(
        "threads",
        default=16,
        min=1,
        help="Worker threads running the application. The server's event loop reads "
        "each request whole (headers and body) before a worker sees it, so a slow or "
        "stalled client never holds a worker.",
    ),
    cfg.IntOpt(
        "client_socket_timeout",
        default=60,
        min=1,
        help="Seconds a client connection may stay idle between requests (keep-alive) "
        "before the server closes it.",
    ),
    cfg.IntOpt(
        "request_read_timeout",
        default=30,
        min=1,
        help="Seconds a client has to send a whole request, headers and body, counted "
        "from its first byte (from the connection's opening for its first request). A "
        "slower client is disconnected without an answer. Checked about once a second.",
    ),
    cfg.IntOpt(
        "max_connections",
        default=500,
        min=1,
        help="Client connections kept open at once; further ones wait in the listen "
        "backlog until one closes. Each costs a file descriptor: keep it well below "
        "the process's descriptor limit (often 1024).",
    ),
    cfg.IntOpt(
        "max_request_header_size",
        default=65536,
        min=4096,
        help="Largest request line and headers accepted, in bytes; larger ones get 431.",
    ),
    cfg.IntOpt(
        "max_request_body_size",
        default=114688,
        min=1024,
        help="Largest request body accepted, in bytes; larger ones get 413.",
    ),
    cfg.IntOpt(
        "max_instances_per_request",
        default=100,
        min=1,
        help="Most servers one create request may ask for (min_count and max_count); "
        "a request for more is refused with 403 naming this limit. Each server is a "
        "database row, a scheduling decision and a message to a compute host, all made "
        "while the request runs.",
    ),
    cfg.IntOpt(
        "max_limit",
        default=1000,
        min=1,
        help="Most items a list request returns in one page (the 'limit' query parameter "
        "is capped at this).",
    ),
    cfg.BoolOpt(
        "noauth_allow_remote",
        default=False,
        help="Let auth_strategy=noauth listen on a non-loopback address. Anyone who can "
        "reach the port is then an administrator.",
    ),
    cfg.StrOpt(
        "region_name",
        default="RegionOne",
        help="Region the service catalog of the local identity service names.",
    ),
    cfg.StrOpt(
        "images_path",
        default="$state_path/images",
        help="Directory of the image registry's files, one per image, named by the "
        "image's id. The libvirt driver boots from the same files ([libvirt] images_path "
        "must name the same directory, shared by every compute host).",
    ),
    cfg.IntOpt(
        "max_image_size",
        default=1 << 40,
        min=1,
        help="Largest image file accepted by PUT /image/v2/images/{id}/file, in bytes "
        "(default 1 TiB, Glance's image_size_cap); a larger upload gets 413 and the image "
        "goes back to queued. The upload is spooled to a temporary file by the HTTP "
        "server before nubis-api streams it into images_path, so the temporary directory "
        "needs room for the largest upload in flight.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: OPTS}
