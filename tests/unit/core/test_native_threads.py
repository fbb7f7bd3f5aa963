"""nubis-compute's modules, and every other service binary's, load without eventlet or
dnspython (nubis.core.native_threads); a process where that cannot hold still runs as
before, and its launcher says why.

Each case runs in a fresh interpreter: what is imported is a property of the process.
(tests/functional/test_compute_no_eventlet.py runs nubis-compute itself.)"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from nubis.core import native_threads
from nubis.core.conf import CONF
from nubis.core.launcher import EXIT_STOPPED, Launcher

# Imports the console script's module, then loads through the plugin core every plugin
# the service named by argv[1] loads with the default configuration (for compute also
# the fake driver and the local indirection; for every one both transports), and reports
# what got imported.
SERVICE_MODULES = textwrap.dedent(
    """
    import json, sys
    from nubis.core.cmd import services  # every service binary's console script module
    from nubis.core import launcher, plugins, rpc, service
    from nubis.core.conf import CONF
    from stevedore import driver

    name = sys.argv[1]
    rpc.register_opts(CONF)
    CONF([], project="nubis", default_config_files=[])
    if name == "compute":
        CONF.set_default("api", "conductor", group="indirection")  # as services.compute()
        EXTRA = {"nubis.virt": ["fake"], "nubis.indirection": ["local"]}
    else:
        EXTRA = {}
    if name == "api":
        from nubis.core.api import service as api_service
    loaded = {}
    for ns in plugins.NAMESPACES:
        path = ns.option_path()
        if path is None or (ns.services is not None and name not in ns.services):
            continue
        group, option = path
        group = name if group == plugins.SERVICE_GROUP else group
        if not hasattr(getattr(CONF, group), option):
            continue  # e.g. nubis-api has no manager
        names = getattr(getattr(CONF, group), option)
        names = [names] if isinstance(names, str) else list(names)
        names += [n for n in EXTRA.get(ns.name, []) if n not in names]
        plugins.load_many(ns.name, names)
        loaded[ns.name] = names
    for scheme in ("rabbit", "inproc"):
        driver.DriverManager("oslo.messaging.drivers", scheme, invoke_on_load=False)
        loaded.setdefault("oslo.messaging.drivers", []).append(scheme)
    from oslo_service import backend
    print(json.dumps({
        "loaded": loaded,
        "backend": backend.get_backend_type().value,
        "unwanted": sorted(
            m for m, mod in sys.modules.items()
            if mod is not None and m.split(".")[0] in ("eventlet", "dns")
        ),
        # nubis-api's oslo.middleware healthcheck imports greenlet (not eventlet) itself.
        "greenlet": sys.modules.get("greenlet") is not None,
    }))
    """
)


def run(script: str, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    result: dict = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_compute_service_modules_import_neither_eventlet_nor_dns():
    result = run(SERVICE_MODULES, "compute")
    # The probe really loaded compute's default plugins (or the check would prove little).
    assert result["loaded"]["nubis.managers"] == ["compute"]
    assert set(result["loaded"]["nubis.virt"]) == {"libvirt", "fake"}
    assert set(result["loaded"]["nubis.indirection"]) == {"conductor", "local"}
    assert "update_available_resource" in result["loaded"]["nubis.periodic_tasks"]
    assert result["unwanted"] == []
    assert result["greenlet"] is False
    assert result["backend"] == "threading"


@pytest.mark.parametrize(
    "name, namespace, plugin",
    [
        ("conductor", "nubis.managers", "conductor"),
        ("scheduler", "nubis.scheduler.filters", "ram"),
        ("api", "nubis.api.auth", "local"),
    ],
)
def test_the_other_service_binaries_import_neither_eventlet_nor_dns(name, namespace, plugin):
    result = run(SERVICE_MODULES, name)
    assert plugin in result["loaded"][namespace]
    assert result["unwanted"] == []
    assert result["backend"] == "threading"


def test_rpc_over_inproc_works_on_the_threading_backend():
    """A server on the threading executor answers a call in a process without eventlet."""
    result = run(
        textwrap.dedent(
            """
            import json, sys
            from nubis.core import rpc  # first, as in every nubis binary
            import oslo_messaging as messaging
            from nubis.core.conf import CONF
            from nubis.core.context import get_admin_context

            rpc.register_opts(CONF)
            CONF([], project="nubis", default_config_files=[])
            CONF.set_override("transport_url", "inproc://")

            class Echo:
                target = messaging.Target(version="1.0")
                def echo(self, context, value):
                    return value

            server = rpc.get_server(messaging.Target(topic="t", server="h"), [Echo()])
            server.start()
            try:
                client = rpc.get_client(messaging.Target(topic="t", version="1.0"))
                answer = client.prepare(timeout=10).call(get_admin_context(), "echo", value=7)
            finally:
                server.stop()
                server.wait()
            print(json.dumps({"answer": answer, "executor": server.executor_type,
                              "eventlet": sys.modules.get("eventlet") is not None}))
            """
        )
    )
    assert result == {"answer": 7, "executor": "threading", "eventlet": False}


def test_eventlet_imported_first_leaves_the_process_as_it_was():
    result = run(
        textwrap.dedent(
            """
            import json, sys
            import eventlet
            from nubis.core import native_threads
            import oslo_messaging
            from oslo_service import backend
            print(json.dumps({"skipped": native_threads.skipped,
                              "backend": backend.get_backend_type().value,
                              "eventlet": sys.modules.get("eventlet") is not None}))
            """
        )
    )
    assert result == {
        "skipped": "eventlet was imported before nubis.core",
        "backend": "eventlet",
        "eventlet": True,
    }


def test_without_the_threading_backend_the_process_runs_as_before():
    # cotyledon (oslo.service[threading]) cannot be uninstalled here; None in sys.modules
    # is how Python says a module cannot be imported.
    result = run(
        textwrap.dedent(
            """
            import json, sys
            sys.modules["cotyledon"] = None
            from nubis.core import native_threads
            import oslo_messaging
            from oslo_service import backend
            print(json.dumps({"skipped": native_threads.skipped,
                              "backend": backend.get_backend_type().value}))
            """
        )
    )
    assert result["backend"] == "eventlet"
    assert "needs cotyledon" in result["skipped"]


class _Service:
    binary = "quiet"

    def __init__(self):
        self.started = threading.Event()

    def start(self):
        self.started.set()

    def stop(self):
        pass


def test_the_launcher_warns_when_eventlet_is_loaded(monkeypatch, caplog, flags):
    flags(graceful_shutdown_timeout=5)
    monkeypatch.setattr(native_threads, "skipped", "eventlet was imported before nubis.core")
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    service = _Service()

    def stop_once_started():
        assert service.started.wait(10)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_once_started, daemon=True).start()
    try:
        with caplog.at_level(logging.WARNING, logger="nubis.core.launcher"):
            assert Launcher([service], CONF).run() == EXIT_STOPPED
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    assert [r.getMessage() for r in caplog.records if "eventlet" in r.getMessage()] == [
        "eventlet is loaded in this process (eventlet was imported before nubis.core); "
        "nubis still runs on native threads, only its start is slower"
    ]


def test_this_test_process_runs_without_eventlet():
    """nubis.core is imported first here too (the conformance pytest plugin)."""
    assert native_threads.skipped is None
    assert sys.modules.get("eventlet") is None
