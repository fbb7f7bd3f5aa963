"""Nova's side of ``bench/nova_side_by_side.py``; runs under the Nova venv's python.

Contract: ``python nova_peer_worker.py --workdir DIR`` sets up, in this process,
Nova's own conductor service (``nova.service.Service`` running
``nova.conductor.manager.ConductorManager``, on native threads as ``nova-conductor``
starts) on ``kombu+memory:////`` and a SQLite file ``DIR/nova.sqlite`` migrated with
Nova's own migrations, then creates one ``ComputeNode`` with the fields of
``_common.COMPUTE_NODE_FIELDS``. Remotable calls from this thread go through
``nova.conductor.rpcapi.ConductorAPI`` as ``NovaObject.indirection_api``, exactly as
``nova-compute`` installs it.

It is a worker of ``_common.serve_side``: a ready line on stdout, then one answer of
timed, checked saves (``_common.SaveSide.run``) per request on stdin.

What is not Nova's stock code path, and why (the least a benchmark must):

* The placement client is stubbed: ``ComputeTaskManager.__init__`` (built by the
  conductor manager) builds the placement report client, which needs a Keystone
  catalog; ``ComputeNode.save`` never uses it.
* ``NovaObject.indirection_api`` is per thread: the conductor runs in this process (the
  in-memory transport does not cross processes), and its RPC worker threads must see
  no indirection API, as a separate ``nova-conductor`` process would, or the conductor
  would send the save back to itself.
* The membership report is off (``report_interval=0``), and periodic tasks too: the
  report's write lands now and then between a save's read and its write, and Nova's
  deferred ``BEGIN`` on SQLite then fails the save with "database is locked".
* Every SQLite connection gets ``PRAGMA journal_mode=WAL`` and ``synchronous=NORMAL``
  (nubis's settings) so both sides run on the same SQLite settings.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import COMPUTE_NODE_FIELDS, SQLITE_PRAGMAS, SaveSide, serve_side  # noqa: E402

TRANSPORT_URL = "kombu+memory:////"


class _OwnerThreadIndirection:
    """A class attribute that is the conductor API in the thread that installed it and
    ``None`` in every other thread (the in-process conductor's RPC workers)."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.owner = threading.get_ident()

    def __get__(self, instance: Any, owner: Any) -> Any:
        return self.api if threading.get_ident() == self.owner else None


def _write_config(workdir: Path) -> Path:
    path = workdir / "nova.conf"
    path.write_text(
        "[DEFAULT]\n"
        f"transport_url = {TRANSPORT_URL}\n"
        "host = bench\n"
        "[database]\n"
        f"connection = sqlite:///{workdir / 'nova.sqlite'}\n"
        "[oslo_concurrency]\n"
        f"lock_path = {workdir}\n"
    )
    return path


def _sqlite_settings(engine: Any) -> None:
    """Apply SQLITE_PRAGMAS to every new connection of Nova's engine."""
    import sqlalchemy

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    sqlalchemy.event.listen(engine, "connect", on_connect)
    engine.dispose()  # oslo.db connected once to test the URL, before this listener


class NovaSide(SaveSide):
    """Nova's conductor service and a ComputeNode saved through it."""

    label = "nova"

    def __init__(self, workdir: Path) -> None:
        began = time.perf_counter()
        # As nova-conductor and nova-compute start: native threads, no eventlet.
        os.environ.setdefault("OS_NOVA_DISABLE_EVENTLET_PATCHING", "true")
        from nova import monkey_patch

        monkey_patch.patch(backend="threading")

        from nova import config, context, objects, service
        from nova.conductor import rpcapi as conductor_rpcapi
        from nova.db import migration
        from nova.db.main import api as main_db_api
        from nova.objects import base as objects_base
        from nova.scheduler.client import report

        import_s = time.perf_counter() - began
        conf_file = _write_config(workdir)
        config.parse_args(["nova-bench", "--config-file", str(conf_file)], default_config_files=[])
        main_db_api.context_manager.append_on_engine_create(_sqlite_settings)
        objects.register_all()
        migration.db_sync(database="main")
        report.report_client_singleton = lambda: None  # see the module docstring

        self.db_path = workdir / "nova.sqlite"
        self.node = objects.ComputeNode(context.get_admin_context(), **COMPUTE_NODE_FIELDS)
        self.node.create()  # locally: no indirection API installed yet

        self.service = service.Service.create(
            binary="nova-conductor",
            topic=conductor_rpcapi.RPC_TOPIC,
            report_interval=0,  # see the module docstring
            periodic_enable=False,
        )
        self.count_saves(self.service.manager)
        self.service.start()
        objects_base.NovaObject.indirection_api = _OwnerThreadIndirection(
            conductor_rpcapi.ConductorAPI()
        )
        self.info = {
            "version": version("nova"),
            "import_s": import_s,
            "sqlite": _pragmas(main_db_api.get_engine()),
        }

    def stop(self) -> None:
        self.service.stop()


def _pragmas(engine: Any) -> dict[str, Any]:
    import sqlalchemy

    with engine.connect() as conn:
        return {
            "journal_mode": conn.execute(sqlalchemy.text("PRAGMA journal_mode")).scalar(),
            "synchronous": conn.execute(sqlalchemy.text("PRAGMA synchronous")).scalar(),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    return serve_side(lambda: NovaSide(args.workdir))


if __name__ == "__main__":
    sys.exit(main())
