"""APIService: nubis-api's WSGI application served by cheroot's threaded HTTP server.

It has the life cycle of :class:`nubis.core.service.Service` (``start``, ``stop``,
``wait``, ``reset``), so :class:`nubis.core.launcher.Launcher` runs it alone
(``nubis-api``) or next to other services (``nubis-all-in-one``):

* ``start()`` composes the application (loading the auth plugin), lets the plugin veto
  the listen address, binds ``[api] listen``:``[api] port`` (port 0 picks a free one;
  :attr:`port` says which) and serves from a thread with ``[api] threads`` workers;
* ``stop()`` stops accepting, lets running requests finish (up to
  ``graceful_shutdown_timeout``) and closes;
* ``reset()`` (SIGHUP) re-reads the policy file.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from cheroot import wsgi
from oslo_config import cfg

from nubis.core import exception
from nubis.core.api import policy
from nubis.core.api.app import APIApp

LOG = logging.getLogger(__name__)


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
        self.server: wsgi.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        """The port served on (the bound one once started)."""
        if self.server is not None and self.server.bind_addr:
            return int(self.server.bind_addr[1])
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
        server = wsgi.Server(
            (self.listen, self._port),
            self.app,
            numthreads=int(self.conf.api.threads),
            server_name="nubis-api",
            timeout=int(self.conf.api.client_socket_timeout),
            shutdown_timeout=max(1, int(self.conf.graceful_shutdown_timeout or 60)),
            request_queue_size=128,
        )
        try:
            server.prepare()
        except OSError as exc:
            raise exception.ConfigurationError(
                option="[api] listen/port",
                reason=f"cannot listen on {self.listen}:{self._port}: {exc}",
            ) from exc
        self.server = server
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

    def stop(self, graceful: bool = True) -> None:
        """Stop accepting, finish running requests (bounded), close the socket."""
        if self.server is None:
            return
        LOG.info("stopping nubis-api on %s", self.url)
        self.server.stop()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, float(self.conf.graceful_shutdown_timeout or 60)))
        if self.app is not None:
            self.app.deps.cleanup()
        self.server = None
        self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the service has stopped; False on timeout."""
        return self._stopped.wait(timeout)

    def reset(self) -> None:
        """SIGHUP: re-read the policy file (other options need a restart)."""
        policy.enforcer(self.conf).load_rules(force_reload=True)

    @property
    def is_running(self) -> bool:
        return self.server is not None and not self._stopped.is_set()
