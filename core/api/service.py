"""APIService: nubis-api's WSGI application served by waitress
(:mod:`nubis.core.api.http_server`).

It has the life cycle of :class:`nubis.core.service.Service` (``start``, ``stop``,
``wait``, ``reset``), so :class:`nubis.core.launcher.Launcher` runs it alone
(``nubis-api``) or next to other services (``nubis-all-in-one``):

* ``start()`` composes the application (loading the auth plugin), lets the plugin veto
  the listen address, binds ``[api] listen``:``[api] port`` (port 0 picks a free one;
  :attr:`port` says which) and serves from a thread: an event loop that reads requests
  whole, and ``[api] threads`` workers that run them;
* ``stop()`` stops accepting, closes idle and half-read connections, lets running
  requests finish, and returns within ``graceful_shutdown_timeout`` seconds in all
  (requests still running then are abandoned: their connections are closed);
* ``reset()`` (SIGHUP) re-reads the policy file.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from oslo_config import cfg

from nubis.core import exception
from nubis.core.api import policy
from nubis.core.api.app import APIApp
from nubis.core.api.http_server import HTTPServer
from nubis.core.api.resources import image_upload
from nubis.core.api.wsgi import public_base_url

LOG = logging.getLogger(__name__)

DEFAULT_SHUTDOWN_TIMEOUT = 60.0


class APIService:
    """See the module docstring."""

    binary = "nubis-api"

    def __init__(
        self,
        conf: cfg.ConfigOpts | None = None,
        compute_api: Any = None,
        listen: str | None = None,
        port: int | None = None,
    ) -> None:
        self.conf = conf or cfg.CONF
        self._compute_api = compute_api
        self.listen = listen if listen is not None else str(self.conf.api.listen)
        self._port = port if port is not None else int(self.conf.api.port)
        self.app: APIApp | None = None
        self.server: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        """The port served on (the bound one once started)."""
        if self.server is not None:
            return self.server.port
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port`` of this service (127.0.0.1 for a wildcard address)."""
        host = self.listen
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Compose the application, bind and start serving (see the module docstring)."""
        self.app = APIApp(self.conf, compute_api=self._compute_api)
        self.app.auth.check_listen(self.listen)
        api = self.conf.api
        try:
            server = HTTPServer(
                self.app,
                self.listen,
                self._port,
                threads=int(api.threads),
                idle_timeout=int(api.client_socket_timeout),
                read_timeout=float(api.request_read_timeout),
                max_connections=int(api.max_connections),
                max_header_size=int(api.max_request_header_size),
                max_body_size=int(api.max_request_body_size),
                large_bodies=image_upload.large_bodies(self.conf),
            )
        except OSError as exc:
            raise exception.ConfigurationError(
                option="[api] listen/port",
                reason=f"cannot listen on {self.listen}:{self._port}: {exc}",
            ) from exc
        self.server = server
        self.app.base_url = public_base_url(self.conf, port=server.port)
        self._stopped.clear()
        self._thread = threading.Thread(target=self._serve, name="nubis-api", daemon=True)
        self._thread.start()
        LOG.info(
            "nubis-api serving on %s (auth_strategy %s)", self.url, self.conf.api.auth_strategy
        )

    def _serve(self) -> None:
        assert self.server is not None
        try:
            self.server.serve()
        except Exception:
            LOG.exception("nubis-api's HTTP server failed")
        finally:
            self._stopped.set()

    def shutdown_timeout(self) -> float:
        """``graceful_shutdown_timeout`` (0 or unset: the default, 60 s)."""
        return float(self.conf.graceful_shutdown_timeout or DEFAULT_SHUTDOWN_TIMEOUT)

    def stop(self, graceful: bool = True) -> None:
        """Stop accepting, let running requests finish, close; all of it within
        ``graceful_shutdown_timeout`` (at once when *graceful* is false)."""
        server = self.server
        if server is None:
            return
        started = time.monotonic()
        bound = self.shutdown_timeout() if graceful else 0.0
        # Drain a little less than the bound: closing the connections, the workers and
        # the compute API's clients must fit in it too.
        timeout = max(0.0, bound - min(1.0, 0.1 * bound))
        LOG.info(
            "stopping nubis-api on %s (waiting up to %.0f s for running requests)",
            self.url,
            timeout,
        )
        serving = self._thread is not None and self._thread.is_alive()
        finished = server.stop(timeout, serving=serving)
        if not finished:
            LOG.warning(
                "nubis-api stopped with requests still running after %.1f s (they are "
                "abandoned: graceful_shutdown_timeout is %.0f s)",
                timeout,
                bound,
            )
        if self.app is not None:
            self.app.deps.cleanup()
        self.server = None
        self._stopped.set()
        LOG.info("nubis-api stopped in %.1f s", time.monotonic() - started)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the service has stopped; False on timeout."""
        return self._stopped.wait(timeout)

    def reset(self) -> None:
        """SIGHUP: re-read the policy file (other options need a restart)."""
        policy.enforcer(self.conf).load_rules(force_reload=True)

    @property
    def is_running(self) -> bool:
        return self.server is not None and not self._stopped.is_set()
