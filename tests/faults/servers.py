"""Private RabbitMQ, PostgreSQL and ZooKeeper instances for fault injection.

Each runs on its own fixed port, far from the machine's shared servers (RabbitMQ 5672
with Erlang distribution 25672, PostgreSQL 5432, ZooKeeper 2181), with its data and
logs under one temporary directory; the tests stop and start these and never touch the
shared ones. Every wait is bounded; a failure raises :class:`ServerError` naming the
command and the last lines of its log.

The fixed ports lie below Linux's ephemeral range (32768-60999 by default): while a
server is stopped, a port inside that range can be handed to any outgoing connection on
the machine, and the server would then fail to start again, by chance.
:func:`ephemeral_port_clashes` says which fixed ports this machine's range holds.

* RabbitMQ: a second node (``RABBITMQ_NODENAME=nubis-faults@localhost``, AMQP
  :data:`RABBIT_PORT`, distribution :data:`RABBIT_DIST_PORT`, no plugins, its mnesia
  and logs under the temporary directory). ``rabbitmq-server -detached`` through
  Debian's su wrapper lost the node here, so it runs as ``rabbitmq-server`` in a session
  of its own; ``rabbitmqctl -n NODE stop_app`` / ``start_app`` failed to listen again
  (eaddrinuse) on this second node, so a fault is a whole broker restart:
  ``rabbitmqctl -n NODE shutdown``, then the node started again (what survives is what
  a real restart keeps: durable queues and persistent messages).
* PostgreSQL: ``initdb`` + ``pg_ctl`` as the postgres user (``runuser -u postgres``)
  on :data:`PG_PORT`, trust authentication on loopback.
* ZooKeeper: ``zkServer.sh start CFG`` with its own zoo.cfg (:data:`ZK_PORT`), pid file,
  log directory and ``HOSTNAME`` (the script names its output file after it).
* memcached and Redis (the ``mc`` and ``redis`` membership backends): daemons on
  :data:`MC_PORT` / :data:`REDIS_PORT` with their own pid files, nothing kept on disk;
  an outage is a SIGKILL of the pid in the file (a crash: memcached and this Redis come
  back empty, as after a real crash), a return is the daemon started again.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

RABBIT_PORT = 31672
RABBIT_DIST_PORT = 31673
#: The distribution ports of the rabbitmqctl runs that control the private node
#: (RabbitMQ's default, 35672-35682, lies in Linux's ephemeral range).
RABBIT_CTL_DIST_PORTS = (31674, 31684)
RABBIT_NODE = "nubis-faults@localhost"
PG_PORT = 31432
ZK_PORT = 32181
ZK_SERVER_SH = "/usr/share/zookeeper/bin/zkServer.sh"
MC_PORT = 31211
REDIS_PORT = 31379
#: The conformance suite's own ZooKeeper and memcached (tests/conformance/environment.py):
#: other ports than the fault tests', so that both suites can run in one session.
CONFORMANCE_ZK_PORT = 32191
CONFORMANCE_MC_PORT = 31221


class ServerError(RuntimeError):
    """A private server did not start or stop within its bounded wait."""


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port: int, up: bool, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while port_open(port) != up:
        if time.monotonic() > deadline:
            raise ServerError(
                f"{what}: port {port} still {'closed' if up else 'open'} after {timeout:g} s"
            )
        time.sleep(0.1)


def _run(cmd: list[str], log: Path, timeout: float, env: dict[str, str] | None = None) -> None:
    with log.open("ab") as out:
        out.write(f"--- {time.strftime('%H:%M:%S')} {' '.join(cmd)}\n".encode())
        out.flush()
        try:
            done = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                env=env,
                start_new_session=True,
                check=False,
            )
        except FileNotFoundError:
            raise ServerError(f"{cmd[0]} not found (see tests/provisioning/provision.sh)") from None
        except subprocess.TimeoutExpired:
            raise ServerError(
                f"`{' '.join(cmd)}` did not finish in {timeout:g} s; {log}: {_tail(log)}"
            ) from None
    if done.returncode != 0:
        raise ServerError(f"`{' '.join(cmd)}` exited {done.returncode}; {log}: {_tail(log)}")


def ephemeral_port_clashes(
    ports: dict[str, int], sysctl: Path = Path("/proc/sys/net/ipv4")
) -> list[str]:
    """Which of *ports* (what listens there -> port) this machine may hand to outgoing
    connections: inside ``net.ipv4.ip_local_port_range`` and not in
    ``ip_local_reserved_ports`` (both read under *sysctl*). Empty when all are safe to
    stop and start again."""
    try:
        low, high = (int(n) for n in (sysctl / "ip_local_port_range").read_text().split())
        reserved_text = (sysctl / "ip_local_reserved_ports").read_text().strip()
    except (OSError, ValueError):
        return []
    reserved: set[int] = set()
    for part in filter(None, reserved_text.split(",")):
        first, _, last = part.partition("-")
        reserved.update(range(int(first), int(last or first) + 1))
    return [
        f"{what} on {port}"
        for what, port in ports.items()
        if low <= port <= high and port not in reserved
    ]


def fixed_ports() -> dict[str, int]:
    """The fixed ports of the private servers, the fault tests' and the conformance
    suite's (what listens there -> port)."""
    ctl_low, ctl_high = RABBIT_CTL_DIST_PORTS  # a range: its ends are checked
    return {
        "RabbitMQ (AMQP)": RABBIT_PORT,
        "RabbitMQ (distribution)": RABBIT_DIST_PORT,
        "rabbitmqctl (distribution, lowest)": ctl_low,
        "rabbitmqctl (distribution, highest)": ctl_high,
        "PostgreSQL": PG_PORT,
        "ZooKeeper": ZK_PORT,
        "memcached": MC_PORT,
        "Redis": REDIS_PORT,
        "ZooKeeper (conformance)": CONFORMANCE_ZK_PORT,
        "memcached (conformance)": CONFORMANCE_MC_PORT,
    }


def _tail(path: Path, lines: int = 6) -> str:
    """The last *lines* lines of *path*, joined with " | " (for one error line)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept)


def missing_binaries() -> list[str]:
    """What this machine lacks to run the private servers (empty: all there)."""
    missing = [b for b in ("rabbitmq-server", "rabbitmqctl", "runuser") if not shutil.which(b)]
    if not pg_bindir():
        missing.append("PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    if not Path(ZK_SERVER_SH).exists():
        missing.append(ZK_SERVER_SH)
    return missing


def pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PrivateRabbit:
    def __init__(self, root: Path) -> None:
        self.root = root / "rabbitmq"
        self.log = self.root / "control.log"
        self.url = f"rabbit://guest:guest@127.0.0.1:{RABBIT_PORT}/"
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        plugins = self.root / "enabled_plugins"
        return {
            **os.environ,
            "RABBITMQ_NODENAME": RABBIT_NODE,
            "RABBITMQ_NODE_PORT": str(RABBIT_PORT),
            "RABBITMQ_DIST_PORT": str(RABBIT_DIST_PORT),
            "RABBITMQ_CTL_DIST_PORT_MIN": str(RABBIT_CTL_DIST_PORTS[0]),
            "RABBITMQ_CTL_DIST_PORT_MAX": str(RABBIT_CTL_DIST_PORTS[1]),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_PID_FILE": str(self.root / "rabbit.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),
        }

    def start(self, timeout: float = 60.0) -> None:
        if port_open(RABBIT_PORT):
            raise ServerError(f"port {RABBIT_PORT} is taken: a previous run's RabbitMQ node?")
        if (self.root / "mnesia").exists():  # started before: keep its state
            self._launch(timeout)
            return
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "enabled_plugins").write_text("[].\n")
        # Loopback only; the default guest user may log in from there.
        (self.root / "rabbitmq.conf").write_text("loopback_users.guest = false\n")
        # rabbitmq-server run as root runs the node as the rabbitmq user (su).
        self.root.parent.chmod(0o755)
        for path in (self.root, *self.root.iterdir()):
            shutil.chown(path, "rabbitmq", "rabbitmq")
        self._launch(timeout)

    def _launch(self, timeout: float) -> None:
        # The node runs in its own session with its output in the log (``-detached``
        # through Debian's su wrapper lost the node here); the rabbitmq user runs it.
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    "su",
                    "rabbitmq",
                    "-s",
                    "/bin/sh",
                    "-c",
                    "exec /usr/lib/rabbitmq/bin/rabbitmq-server",
                ],
                cwd="/var/lib/rabbitmq",
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not port_open(RABBIT_PORT):
            if self.process.poll() is not None:
                raise ServerError(
                    f"RabbitMQ (private) exited {self.process.returncode}; "
                    f"{self.log}: {_tail(self.log)}"
                )
            if time.monotonic() > deadline:
                raise ServerError(
                    f"RabbitMQ (private) not listening after {timeout:g} s; "
                    f"{self.log}: {_tail(self.log)}"
                )
            time.sleep(0.2)
        _run(["rabbitmqctl", "-n", RABBIT_NODE, "await_startup"], self.log, timeout, self.env())

    def stop(self, timeout: float = 60.0) -> None:
        """The broker goes away (a whole node shutdown; see the module docstring)."""
        self.shutdown(timeout)

    def shutdown(self, timeout: float = 60.0) -> None:
        if not (self.root / "mnesia").exists() or not port_open(RABBIT_PORT):
            return
        try:
            _run(["rabbitmqctl", "-n", RABBIT_NODE, "shutdown"], self.log, timeout, self.env())
        except ServerError:
            pid = _pid(self.root / "rabbit.pid")
            if pid:
                _kill(pid)
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        wait_port(RABBIT_PORT, False, timeout, "RabbitMQ (private) shutdown")


class PrivatePostgres:
    def __init__(self, root: Path) -> None:
        self.root = root / "postgresql"
        self.data = self.root / "data"
        self.log = self.root / "control.log"
        self.bindir = pg_bindir()
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{PG_PORT}/nubis"

    def _as_postgres(self, *cmd: str, timeout: float = 60.0) -> None:
        _run(["runuser", "-u", "postgres", "--", *cmd], self.log, timeout)

    def start(self, timeout: float = 60.0) -> None:
        if port_open(PG_PORT):
            raise ServerError(f"port {PG_PORT} is taken: a previous run's PostgreSQL?")
        assert self.bindir is not None
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.root.parent.chmod(0o755)
        shutil.chown(self.root, "postgres", "postgres")
        self.log.touch()
        shutil.chown(self.log, "postgres", "postgres")
        self._as_postgres(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            timeout=120,
        )
        (self.root / "sock").mkdir(exist_ok=True)
        shutil.chown(self.root / "sock", "postgres", "postgres")
        self.start_server(timeout)
        _run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(self.bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(PG_PORT),
                "nubis",
            ],
            self.log,
            timeout,
        )

    def start_server(self, timeout: float = 60.0) -> None:
        assert self.bindir is not None
        options = (
            f"-p {PG_PORT} -k {self.root / 'sock'} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=200"
        )
        self._as_postgres(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            timeout=timeout + 5,
        )
        wait_port(PG_PORT, True, timeout, "PostgreSQL (private)")

    def stop_server(self, timeout: float = 60.0, mode: str = "fast") -> None:
        assert self.bindir is not None
        self._as_postgres(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-m",
            mode,
            "-w",
            "-t",
            str(int(timeout)),
            "stop",
            timeout=timeout + 5,
        )
        wait_port(PG_PORT, False, timeout, "PostgreSQL (private) stop")

    def shutdown(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop_server(30, mode="immediate")
            except ServerError:
                pid = _pid(self.data / "postmaster.pid")
                if pid:
                    _kill(pid)


class PrivateZooKeeper:
    def __init__(self, root: Path, port: int = ZK_PORT) -> None:
        self.root = root / "zookeeper"
        self.port = port
        self.cfg = self.root / "zoo.cfg"
        self.log = self.root / "control.log"
        self.hosts = f"127.0.0.1:{port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ZOOPIDFILE": str(self.root / "zookeeper.pid"),
            "HOSTNAME": "nubis-faults",
            "JVMFLAGS": f"-Dzookeeper.log.dir={self.root / 'log'} -Xmx128m",
        }

    def start(self, timeout: float = 60.0) -> None:
        if not self.cfg.exists():
            if port_open(self.port):
                raise ServerError(f"port {self.port} is taken: a previous run's ZooKeeper?")
            (self.root / "data").mkdir(parents=True, exist_ok=True)
            (self.root / "log").mkdir(exist_ok=True)
            self.cfg.write_text(
                "tickTime=500\ninitLimit=10\nsyncLimit=5\nminSessionTimeout=1000\n"
                f"maxSessionTimeout=30000\ndataDir={self.root / 'data'}\nclientPort={self.port}\n"
                "clientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n"
                "4lw.commands.whitelist=ruok,srvr,stat,cons\n"
            )
        _run([ZK_SERVER_SH, "start", str(self.cfg)], self.log, timeout, self.env())
        wait_port(self.port, True, timeout, "ZooKeeper (private)")

    def stop(self, timeout: float = 60.0) -> None:
        _run([ZK_SERVER_SH, "stop", str(self.cfg)], self.log, timeout, self.env())
        wait_port(self.port, False, timeout, "ZooKeeper (private) stop")

    def shutdown(self) -> None:
        pid = _pid(self.root / "zookeeper.pid")
        if pid:
            _kill(pid)
            wait_port(self.port, False, 30, "ZooKeeper (private) shutdown")

    def connections(self) -> str:
        """ZooKeeper's ``cons`` answer: one line per client connection."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"cons")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")


class _Daemon:
    """A server that daemonizes itself and writes *pid_file*; :meth:`kill` is its outage."""

    name = ""
    port = 0

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pid_file = root / f"{self.name}.pid"
        self.log = root / "control.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> None:
        """Start the daemon; return once it accepts connections."""
        if port_open(self.port):
            raise ServerError(f"port {self.port} is taken: a previous run's {self.name}?")
        self.root.mkdir(parents=True, exist_ok=True)
        _run(self.command(), self.log, timeout)
        wait_port(self.port, True, timeout, f"{self.name} (private)")
        # The daemon may write its pid file a moment after it listens.
        deadline = time.monotonic() + timeout
        while _pid(self.pid_file) is None:
            if time.monotonic() > deadline:
                raise ServerError(f"{self.name} (private) wrote no pid to {self.pid_file}")
            time.sleep(0.05)

    def kill(self, timeout: float = 30.0) -> None:
        """SIGKILL the daemon (a crash); return once its port refuses connections."""
        pid = _pid(self.pid_file)
        if pid is None:
            raise ServerError(f"{self.name} (private): no pid in {self.pid_file}")
        _kill(pid)
        wait_port(self.port, False, timeout, f"{self.name} (private) kill")
        self.pid_file.unlink(missing_ok=True)

    def shutdown(self) -> None:
        """Stop the daemon if it runs (safe to call at any time)."""
        if _pid(self.pid_file) is not None:
            self.kill()


class PrivateMemcached(_Daemon):
    """``memcached -d`` on :data:`MC_PORT` (as root it must be told ``-u root``)."""

    name = "memcached"
    port = MC_PORT

    def __init__(self, root: Path, port: int = MC_PORT) -> None:
        super().__init__(root / "memcached")
        self.port = port
        self.address = f"127.0.0.1:{port}"

    def command(self) -> list[str]:
        as_root = ["-u", "root"] if os.geteuid() == 0 else []
        return [
            "memcached",
            "-d",
            *as_root,
            "-l",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "0",
            "-m",
            "16",
            "-P",
            str(self.pid_file),
        ]


class PrivateRedis(_Daemon):
    """``redis-server --daemonize yes`` on :data:`REDIS_PORT`, no RDB or AOF file."""

    name = "redis"
    port = REDIS_PORT

    def __init__(self, root: Path) -> None:
        super().__init__(root / "redis")
        self.url = f"redis://127.0.0.1:{REDIS_PORT}/0"

    def command(self) -> list[str]:
        return [
            "redis-server",
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--pidfile",
            str(self.pid_file),
            "--logfile",
            str(self.root / "redis.log"),
            "--dir",
            str(self.root),
        ]


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _kill(pid: int) -> None:
    import signal

    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
