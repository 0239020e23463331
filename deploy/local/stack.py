"""Local Kafka (KRaft: one node, or a cluster of three for the soak) + PostgreSQL without Docker.

Stdlib only, so it runs before any project dependency is installed and is importable by the tests.

    python -m deploy.local.stack up     [--profile dev] [--kafka-nodes 3]   # start both, wait
    python -m deploy.local.stack down   [--profile dev] [--wipe]
    python -m deploy.local.stack status [--profile dev]
    python -m deploy.local.stack env    [--profile dev]   # eval "$(... env)"

Layout:
    <repo>/.cache/kafka-<version>/libs/  broker classpath from Maven Central (kafka/pom.xml)
    <repo>/.local/<profile>/             server.properties, log4j2.properties, kafka.pid,
                                         kafka-data/, kafka/server.log, postgres -> below
    /tmp/wuye-pg-<profile>-<hash>/       PostgreSQL data, log and socket: outside the repo as the
                                         `postgres` user must reach it (a clone under /root is
                                         not traversable); <hash> is of the repo path

Cluster mode (`--kafka-nodes 3`, `Stack(kafka_nodes=3)`): three nodes, each broker and controller,
in <state>/kafka-<n>/, on ports block+10..block+15; replication factor 3, min.insync.replicas 2.

Profiles: "dev" (demo) uses ports 19092/19093/15432, "test" (pytest) 29092/29093/25432: both
run side by side and neither collides with a system PostgreSQL on 5432 or a Kafka on 9092.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import glob
import hashlib
import json
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime import documents

__all__ = [
    "REPO_ROOT",
    "Kafka",
    "KafkaCluster",
    "KafkaNode",
    "Keycloak",
    "Postgres",
    "Stack",
    "StackConfig",
    "ensure_system_packages",
    "main",
]

log = logging.getLogger("deploy.local.stack")

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_POM = REPO_ROOT / "deploy" / "local" / "kafka" / "pom.xml"
PG_SYSTEM_USER = "postgres"

Reporter = Callable[[str], None]


def _default_reporter(msg: str) -> None:
    log.info(msg)


# ------------------------------------------------------------------------------------------- config


@dataclass
class StackConfig:
    profile: str = "dev"
    kafka_port: int = 9092
    controller_port: int = 9093
    pg_port: int = 5432

    @classmethod
    def for_profile(cls, name: str) -> StackConfig:
        """Ports per profile. Unknown names get a stable port block derived from the name
        (20000-27999), so e.g. `--profile test-b` can run beside `test` without a collision."""
        known = {
            "dev": (19092, 19093, 15432),
            "test": (29092, 29093, 25432),
        }
        if name in known:
            k, c, p = known[name]
        else:
            if not name or not all(ch.isalnum() or ch in "-_" for ch in name):
                raise ValueError(f"invalid profile name {name!r} (letters, digits, - and _ only)")
            # below Linux's ephemeral range (32768+), so outgoing connections never hold them
            base = 20000 + (zlib.crc32(name.encode()) % 80) * 100
            k, c, p = base, base + 1, base + 2
        return cls(profile=name, kafka_port=k, controller_port=c, pg_port=p)

    @property
    def state_dir(self) -> Path:
        return REPO_ROOT / ".local" / self.profile

    @property
    def pg_dir(self) -> Path:
        digest = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:8]
        # fixed, root-created path; _prepare_dir refuses a symlink planted there
        return Path("/tmp") / f"wuye-pg-{self.profile}-{digest}"  # noqa: S108

    @property
    def is_test(self) -> bool:
        return self.profile.startswith("test")


# ------------------------------------------------------------------------------------------ helpers


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _port_accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    """True if pid runs and is not a zombie (reaps it if it is our own dead child)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] != "Z":
            return True
        # a zombie leader whose other threads are still exiting still holds its sockets
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except (OSError, IndexError):
        return Path(f"/proc/{pid}").exists()  # vanished meanwhile: dead


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return raw.replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _runs(pid: int, marker: str) -> bool:
    """True if pid is alive and is the process we started (its command line names `marker`).

    A process in the middle of execve() shows an empty command line for a moment (the kernel has
    swapped in the new image but not yet laid out its arguments). kc.sh and Kafka's start script
    both exec the JVM, and a poll that lands in that moment must not take the server for dead
    (it did once, in CI, right after Keycloak's augmentation): an empty line of a live pid counts
    as ours; a line that names something else is a reused pid."""
    if not _pid_alive(pid):
        return False
    line = _cmdline(pid)
    return not line.strip() or marker in line


def _tail(path: Path, lines: int = 40, offset: int = 0) -> str:
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(offset if 0 <= offset <= size else 0)
            data = f.read()
    except OSError:
        return f"(no {path})"
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def _is_root() -> bool:
    return os.geteuid() == 0


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise RuntimeError("java not found (run ensure_system_packages() or install a JRE 17+)")
    return found


def _pg_bin_dir() -> Path | None:
    dirs = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    if not dirs:
        return None

    def version(d: Path) -> tuple[int, ...]:
        try:
            return tuple(int(x) for x in d.parent.name.split("."))
        except ValueError:
            return (0,)

    return max(dirs, key=version)


def ensure_system_packages(reporter: Reporter | None = None) -> None:
    """Install PostgreSQL (with PostGIS), a headless JRE, Maven and a Chinese font
    (fonts-wqy-zenhei, for the official documents) from Debian's packages where missing.
    Needs root and apt-get; elsewhere it raises with what to install."""
    say = reporter or _default_reporter
    missing = []
    if _pg_bin_dir() is None:
        missing.append("postgresql")
    try:
        _java()
    except RuntimeError:
        missing.append("default-jre-headless")
    if not shutil.which("mvn"):
        missing.append("maven")
    try:  # official documents (PDF) are set in a Chinese font from Debian's packages
        documents.find_font()
    except documents.FontMissing:
        missing.append(documents.DEBIAN_FONT_PACKAGE)
    if not missing:
        _ensure_postgis(say)
        return
    _apt_install(missing, say)
    _ensure_postgis(say)


def _apt_install(packages: list[str], say: Reporter) -> None:
    """Install Debian packages (as root, non-interactive), or raise with what to install."""
    if not _is_root() or not shutil.which("apt-get"):
        raise RuntimeError(
            f"missing system packages {packages} "
            f"(Debian: apt-get install -y {' '.join(packages)}; needs root)"
        )
    t0 = time.monotonic()
    say(f"· installing {' '.join(packages)} with apt-get…")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", *packages]):
        r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if r.returncode != 0:
            out = (r.stdout + r.stderr)[-4000:]
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{out}")
    say(f"✓ installed {' '.join(packages)} ({time.monotonic() - t0:.1f} s)")


def _postgis_package() -> str | None:
    """Debian's PostGIS package for the PostgreSQL the stack runs, or None if it is installed
    (the complaints service's migration runs CREATE EXTENSION postgis)."""
    bin_dir = _pg_bin_dir()
    if bin_dir is None:
        return None
    major = bin_dir.parent.name
    if glob.glob(f"/usr/share/postgresql/{major}/extension/postgis.control"):
        return None
    return f"postgresql-{major}-postgis-3"


def _ensure_postgis(say: Reporter) -> None:
    package = _postgis_package()
    if package is not None:
        _apt_install([package], say)


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    """Exclusive inter-process lock. Not re-entrant: never nest two _flock calls on one path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# -------------------------------------------------------------------------------------------- Kafka


def _kafka_version(pom: Path = KAFKA_POM) -> str:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", ns)  # noqa: S314 (our own file)
    version = (node.text or "").strip() if node is not None else ""
    if not version:
        raise RuntimeError(f"no <kafka.version> in {pom}")
    return version


_LOG4J2 = """\
# generated by deploy/local/stack.py
status = warn
name = wuye-local-kafka
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


class Kafka:
    STARTED_MESSAGE = "Kafka Server started"

    def __init__(self, config: StackConfig, reporter: Reporter | None = None) -> None:
        self.config = config
        self.say = reporter or _default_reporter
        self.version = _kafka_version()
        self.cache_dir = REPO_ROOT / ".cache" / f"kafka-{self.version}"
        self.libs_dir = self.cache_dir / "libs"
        self.port = config.kafka_port
        self.controller_port = config.controller_port
        self.cluster_id: str | None = None  # set by KafkaCluster: every node formats with it
        self._set_state_dir(config.state_dir)

    def _set_state_dir(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.data_dir = self.state_dir / "kafka-data"
        self.logs_dir = self.state_dir / "kafka"
        self.server_log = self.logs_dir / "server.log"
        self.stdout_log = self.logs_dir / "stdout.log"
        self.pid_file = self.state_dir / "kafka.pid"
        self.properties_file = self.state_dir / "server.properties"
        self.log4j_file = self.state_dir / "log4j2.properties"
        self._log_offset: int | None = None  # server.log size when *we* launched the broker

    # -- jars
    @property
    def _marker(self) -> Path:
        return self.cache_dir / ".complete"

    def _pom_digest(self) -> str:
        return hashlib.sha256(KAFKA_POM.read_bytes()).hexdigest()

    def jars_cached(self) -> bool:
        try:
            complete = self._marker.read_text().strip() == self._pom_digest()
        except OSError:
            return False
        return complete and any(self.libs_dir.glob("kafka_2.13-*.jar"))

    def ensure_jars(self) -> None:
        if self.jars_cached():
            return
        with _flock(self.cache_dir / ".lock"):
            if self.jars_cached():  # another process fetched them meanwhile
                return
            mvn = shutil.which("mvn")
            if not mvn:
                raise RuntimeError("mvn not found (run ensure_system_packages() or install maven)")
            self.say(f"· Kafka {self.version}: fetching jars from Maven Central…")
            t0 = time.monotonic()
            tmp = self.cache_dir / f"libs.tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            cmd = [
                mvn,
                "-B",
                "-q",
                "-f",
                str(KAFKA_POM),
                "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={tmp}",
            ]
            r = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=self.cache_dir
            )
            if r.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
                shutil.rmtree(tmp, ignore_errors=True)
                out = (r.stdout + r.stderr)[-4000:]
                raise RuntimeError(f"fetching Kafka jars failed ({r.returncode}):\n{out}")
            shutil.rmtree(self.libs_dir, ignore_errors=True)
            tmp.rename(self.libs_dir)
            self._marker.write_text(self._pom_digest() + "\n")
            n = len(list(self.libs_dir.glob("*.jar")))
            took = time.monotonic() - t0
            self.say(f"✓ Kafka {self.version}: {n} jars cached in {self.libs_dir} ({took:.1f} s)")

    # -- config files
    def server_properties(self) -> str:
        c = self.config
        props = {
            **self._base_properties(),
            **self._cluster_properties(),
        }
        body = "".join(f"{k}={v}\n" for k, v in props.items())
        head = (
            f"# generated by deploy/local/stack.py (profile {c.profile}), rewritten on each start\n"
        )
        return head + body

    def _cluster_properties(self) -> dict[str, str]:
        """One combined broker + controller: every replication setting is 1."""
        c = self.config
        return {
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{c.controller_port}",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
        }

    def _base_properties(self) -> dict[str, str]:
        return {
            "process.roles": "broker,controller",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.network.threads": "2",
            "num.io.threads": "2",
            # topics are created explicitly by the project (as in production)
            "auto.create.topics.enable": "false",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.num.partitions": "5",
            "group.initial.rebalance.delay.ms": "0",
            # after a SIGKILL the restarted controller rejects the broker's re-registration until
            # the old session expires (default 9 s): keep that short for the fault tests
            "broker.session.timeout.ms": "4000",
            "broker.heartbeat.interval.ms": "1000",
        }

    def _write_config(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text(self.server_properties())
        self.log4j_file.write_text(_LOG4J2)

    def _java_cmd(self, *args: str, heap: bool = False) -> list[str]:
        cmd = [_java()]
        if heap:
            cmd += [
                "-Xms256m",
                "-Xmx512m",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-XX:InitiatingHeapOccupancyPercent=35",
                "-XX:+ExplicitGCInvokesConcurrent",
            ]
        cmd += [
            "-Djava.awt.headless=true",
            # keep logging through Kafka's own shutdown hook (log4j2's hook would stop it first)
            "-Dlog4j2.shutdownHookEnabled=false",
            f"-Dkafka.logs.dir={self.logs_dir}",
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            "-cp",
            str(self.libs_dir / "*"),
            *args,
        ]
        return cmd

    def new_cluster_id(self) -> str:
        r = subprocess.run(
            self._java_cmd("kafka.tools.StorageTool", "random-uuid"),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        cluster_id = (
            r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else ""
        )
        if not cluster_id:
            raise RuntimeError(f"kafka-storage random-uuid failed:\n{r.stdout}{r.stderr}")
        return cluster_id

    def _format_storage(self) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = self.cluster_id or self.new_cluster_id()
        r = subprocess.run(
            self._java_cmd(
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                cluster_id,
                "-c",
                str(self.properties_file),
            ),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        if r.returncode != 0:
            raise RuntimeError(
                f"kafka-storage format failed ({r.returncode}):\n{r.stdout}{r.stderr}"
            )
        (self.state_dir / "kafka-cluster-id").write_text(cluster_id + "\n")

    # -- process
    def pid(self) -> int | None:
        """Pid of this profile's running broker; cleans a stale pid file."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if _runs(pid, str(self.properties_file)):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def is_running(self) -> bool:
        return self.pid() is not None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Launch the broker detached (format storage first if new). No-op if already running."""
        if self.is_running():
            return
        self.ensure_jars()
        ports = (self.port, self.controller_port)
        deadline = time.monotonic() + 10  # a broker that just exited may still hold them briefly
        while (busy := [p for p in ports if not _port_free(p)]) and time.monotonic() < deadline:
            time.sleep(0.2)
        if busy:
            raise RuntimeError(
                f"Kafka ({self.config.profile}): port(s) {busy} already in use by another process "
                f"(another checkout's stack? `ss -ltnp | grep {busy[0]}`)"
            )
        self._write_config()
        self._format_storage()
        self._log_offset = self.server_log.stat().st_size if self.server_log.exists() else 0
        with self.stdout_log.open("a") as out:
            out.write(f"\n===== start {time.strftime('%Y-%m-%d %H:%M:%S')} =====\n")
        # Double fork through sh: the broker is not our child, so no Popen object outlives this
        # call (pytest turns its "still running" ResourceWarning into an error) and no zombie.
        r = subprocess.run(
            [
                "/bin/sh",
                "-c",
                'log="$1"; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!',
                "sh",
                str(self.stdout_log),
                *self._java_cmd("kafka.Kafka", str(self.properties_file), heap=True),
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=self.state_dir,
            start_new_session=True,
            check=True,
        )
        self.pid_file.write_text(f"{int(r.stdout.strip())}\n")

    def _started_logged(self) -> bool:
        offset = self._log_offset if self._log_offset is not None else 0
        try:
            with self.server_log.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(offset if offset <= size else 0)  # rolled over: read the new file from 0
                return self.STARTED_MESSAGE.encode() in f.read()
        except OSError:
            return False

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.is_running():
                raise RuntimeError(
                    f"Kafka ({self.config.profile}) is not running (died during start?)\n"
                    f"--- {self.server_log} ---\n"
                    f"{_tail(self.server_log, 40, self._log_offset or 0)}\n"
                    f"--- {self.stdout_log} ---\n{_tail(self.stdout_log, 20)}"
                )
            if self._started_logged() and _port_accepts(self.port):
                self._log_offset = None
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"Kafka ({self.config.profile}) not ready after {timeout:.0f} s\n"
                    f"--- {self.server_log} ---\n"
                    f"{_tail(self.server_log, 40, self._log_offset or 0)}"
                )
            time.sleep(0.2)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return True
            time.sleep(0.1)
        return not _pid_alive(pid)

    def stop(self, timeout: float = 30) -> None:
        """Graceful stop (SIGTERM: controlled shutdown), SIGKILL after `timeout` s. Data is kept."""
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not self._wait_exit(pid, timeout):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                self._wait_exit(pid, 10)
        self._finish()

    def kill(self) -> None:
        """SIGKILL the broker (crash, for fault tests). Data is kept; start() recovers it."""
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_exit(pid, 10)
        self._finish()

    def _finish(self) -> None:
        self.pid_file.unlink(missing_ok=True)
        self._log_offset = None

    def wipe(self) -> None:
        """Delete broker data (stop first)."""
        if self.is_running():
            raise RuntimeError("stop Kafka before wiping its data")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        (self.state_dir / "kafka-cluster-id").unlink(missing_ok=True)


class KafkaNode(Kafka):
    """One node of a KafkaCluster: broker and controller in one process (KRaft combined mode),
    its own ports (after the profile's block), folder and log, the cluster's shared id."""

    def __init__(
        self, config: StackConfig, node_id: int, size: int, reporter: Reporter | None = None
    ) -> None:
        super().__init__(config, reporter)
        self.node_id = node_id
        self.size = size
        self.port = self.node_port(config, node_id)
        self.controller_port = self.port + 1
        self._set_state_dir(config.state_dir / f"kafka-{node_id}")

    @staticmethod
    def node_port(config: StackConfig, node_id: int) -> int:
        # the profile's block is 100 ports wide; its first three are the single node's and PG's
        return config.kafka_port + 10 + 2 * (node_id - 1)

    def _cluster_properties(self) -> dict[str, str]:
        voters = ",".join(
            f"{i}@127.0.0.1:{self.node_port(self.config, i) + 1}" for i in range(1, self.size + 1)
        )
        rf = str(min(3, self.size))
        isr = str(min(2, self.size))
        return {
            "node.id": str(self.node_id),
            "controller.quorum.voters": voters,
            # production's durability: every partition on three nodes, a write acknowledged
            # (acks=all) once two of them have it, never an out-of-sync replica as leader
            "default.replication.factor": rf,
            "min.insync.replicas": isr,
            "unclean.leader.election.enable": "false",
            "offsets.topic.replication.factor": rf,
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": isr,
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": isr,
        }


class KafkaCluster:
    """Several KRaft nodes, each broker and controller (combined mode): the soak's production-
    shaped Kafka (`Stack(..., kafka_nodes=3)`). Same interface as `Kafka` for the Stack, plus
    per-node control for faults: `node(i)`, `active_controller()`, `kill_node(i)`."""

    def __init__(self, config: StackConfig, reporter: Reporter | None = None, size: int = 3):
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        self.config = config
        self.say = reporter or _default_reporter
        self.nodes = [KafkaNode(config, i, size, reporter) for i in range(1, size + 1)]
        self.version = self.nodes[0].version
        self.cluster_id_file = config.state_dir / "kafka-cluster-id"

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def replication_factor(self) -> int:
        return min(3, self.size)

    @property
    def min_insync_replicas(self) -> int:
        return min(2, self.size)

    def node(self, node_id: int) -> KafkaNode:
        return self.nodes[node_id - 1]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(n.bootstrap_servers for n in self.nodes)

    @property
    def server_log(self) -> Path:
        return self.nodes[0].server_log

    def jars_cached(self) -> bool:
        return self.nodes[0].jars_cached()

    def ensure_jars(self) -> None:
        self.nodes[0].ensure_jars()

    def pid(self) -> int | None:
        return next((p for n in self.nodes if (p := n.pid()) is not None), None)

    def is_running(self) -> bool:
        return any(n.is_running() for n in self.nodes)

    def _cluster_id(self) -> str:
        try:
            found = self.cluster_id_file.read_text().strip()
        except OSError:
            found = ""
        if not found:
            self.ensure_jars()
            found = self.nodes[0].new_cluster_id()
            self.cluster_id_file.parent.mkdir(parents=True, exist_ok=True)
            self.cluster_id_file.write_text(found + "\n")
        return found

    def start(self) -> None:
        cluster_id = self._cluster_id()
        for n in self.nodes:
            n.cluster_id = cluster_id
            n.start()

    def start_node(self, node_id: int) -> None:
        n = self.node(node_id)
        n.cluster_id = self._cluster_id()
        n.start()

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for n in self.nodes:
            n.wait_ready(max(1.0, deadline - time.monotonic()))

    def stop(self, timeout: float = 30) -> None:
        # SIGTERM to all first: a node stopping alone waits to hand its partitions to the others
        for n in self.nodes:
            if (pid := n.pid()) is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        for n in self.nodes:
            n.stop(timeout)

    def kill(self) -> None:
        for n in self.nodes:
            n.kill()

    def kill_node(self, node_id: int) -> None:
        self.node(node_id).kill()

    def active_controller(self) -> int | None:
        """The KRaft quorum's leader, from the quorum state each live node keeps on disk (the
        leader id of the highest epoch a node has seen). None while there is none."""
        best: tuple[int, int] | None = None
        for n in self.nodes:
            if not n.is_running():
                continue
            try:
                state = json.loads(
                    (n.data_dir / "__cluster_metadata-0" / "quorum-state").read_text()
                )
            except (OSError, ValueError):
                continue
            leader, epoch = state.get("leaderId", -1), state.get("leaderEpoch", -1)
            if isinstance(leader, int) and leader > 0 and (best is None or epoch > best[1]):
                best = (leader, epoch)
        if best is None or not self.node(best[0]).is_running():
            return None
        return best[0]

    def wipe(self) -> None:
        for n in self.nodes:
            n.wipe()
        self.cluster_id_file.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------- Postgres


class Postgres:
    def __init__(
        self, config: StackConfig, reporter: Reporter | None = None, *, fast: bool | None = None
    ) -> None:
        """fast=True (default for test profiles): fsync, synchronous_commit and
        full_page_writes off."""
        self.config = config
        self.say = reporter or _default_reporter
        self.fast = config.is_test if fast is None else fast
        self.base_dir = config.pg_dir
        self.data_dir = self.base_dir / "data"
        self.log_file = self.base_dir / "postgres.log"

    @property
    def bin_dir(self) -> Path:
        d = _pg_bin_dir()
        if d is None:
            raise RuntimeError("PostgreSQL is not installed (run ensure_installed())")
        return d

    @property
    def version(self) -> str:
        d = _pg_bin_dir()
        return d.parent.name if d else "?"

    def ensure_installed(self) -> None:
        ensure_system_packages(self.say)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL binary as the postgres user (initdb and pg_ctl refuse root),
        from a cwd that user can read."""
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if _is_root():
            cmd = ["runuser", "-u", PG_SYSTEM_USER, "--", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd="/")
        if check and r.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({r.returncode}):\n{r.stdout}{r.stderr}\n"
                f"--- {self.log_file} ---\n{_tail(self.log_file, 30)}"
            )
        return r

    def _prepare_dir(self) -> None:
        d = self.base_dir
        if d.is_symlink():
            raise RuntimeError(f"{d} is a symlink; refusing to use it")
        d.mkdir(mode=0o700, exist_ok=True)
        if _is_root():
            shutil.chown(d, PG_SYSTEM_USER, PG_SYSTEM_USER)
        os.chmod(d, 0o700)
        # a pointer from the repo's state folder, for people looking for the logs
        link = self.config.state_dir / "postgres"
        with contextlib.suppress(OSError):
            self.config.state_dir.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink() or os.readlink(link) != str(d):
                link.unlink(missing_ok=True)
                link.symlink_to(d)

    @staticmethod
    def _locale() -> str:
        try:
            out = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout
        except OSError:
            return "C"
        names = {x.strip().lower().replace("-", "") for x in out.split()}
        return "C.UTF-8" if "c.utf8" in names else "C"

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        shutil.rmtree(self.data_dir, ignore_errors=True)
        args = [
            "initdb",
            "-D",
            str(self.data_dir),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            f"--locale={self._locale()}",
            "--no-instructions",
        ]
        if self.fast:
            args.append("--no-sync")
        self._run(*args)

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists() or _pg_bin_dir() is None:
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def start(self) -> None:
        if self.is_running():
            return
        if not _port_free(self.config.pg_port):
            raise RuntimeError(
                f"PostgreSQL ({self.config.profile}): port {self.config.pg_port} already in use "
                f"by another process (another checkout's stack? "
                f"`ss -ltnp | grep {self.config.pg_port}`)"
            )
        self._prepare_dir()
        self._initdb()
        opts = [
            f"-p {self.config.pg_port}",
            f"-k {self.base_dir}",
            "-c listen_addresses=127.0.0.1",
            "-c max_connections=300",
        ]
        if self.fast:
            opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            "60",
            "-o",
            " ".join(opts),
            "start",
        )

    def stop(self) -> None:
        if self.is_running():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop")

    def kill(self) -> list[int]:
        """Crash PostgreSQL: SIGKILL the postmaster and every backend and auxiliary process
        (nothing is flushed, no checkpoint; the next start runs crash recovery from the WAL).
        Returns the pids killed."""
        try:
            postmaster = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields and int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        killed = []
        for pid in (postmaster, *children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        deadline = time.monotonic() + 10
        while any(_pid_alive(p) for p in killed) and time.monotonic() < deadline:
            time.sleep(0.05)
        return killed

    def wipe(self) -> None:
        if self.is_running():
            raise RuntimeError("stop PostgreSQL before wiping its data")
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.config.pg_port}/{database}"

    def _psql(self, sql: str, **variables: str) -> str:
        cmd = [
            str(self.bin_dir / "psql"),
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.config.pg_port),
            "-U",
            "postgres",
            "-d",
            "postgres",
        ]
        for k, v in variables.items():
            cmd += ["-v", f"{k}={v}"]
        r = subprocess.run(cmd, input=sql, capture_output=True, text=True, cwd="/")
        if r.returncode != 0:
            raise RuntimeError(f"psql failed ({r.returncode}): {r.stderr.strip()}")
        return r.stdout

    def create_database(self, name: str) -> str:
        """Create `name` if missing; returns its DSN."""
        self._psql(
            "SELECT format('CREATE DATABASE %I', :'db') "
            "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \\gexec\n",
            db=name,
        )
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        self._psql(
            "SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'db') \\gexec\n", db=name
        )


# ----------------------------------------------------------------------------------------- Keycloak

KEYCLOAK_VERSION = "26.5.6"  # runs on Java 17 (checked on Debian 12's OpenJDK 17.0.15)
KEYCLOAK_REALM_FILE = REPO_ROOT / "deploy" / "local" / "keycloak" / "realm-wuye.json"
KEYCLOAK_REALM = "wuye"


class KeycloakExited(RuntimeError):
    """Keycloak's process ended before it answered (its log tail is the message)."""


class Keycloak:
    """The identity provider of the local stack: Keycloak in development mode (`start-dev`, an
    H2 file database under the profile's state dir; for local use and tests only, never in
    production) on loopback, port block+20 (management block+21).

    The distribution zip comes from Maven Central (`org.keycloak:keycloak-quarkus-dist`) into
    <repo>/.cache/keycloak-<version>/. On first start the realm `wuye` is created from
    deploy/local/keycloak/realm-wuye.json through the admin API (a bootstrap admin whose random
    password is kept in the state dir, 0600). Ready = the realm's discovery document answers."""

    def __init__(self, config: StackConfig, reporter: Reporter | None = None) -> None:
        self.config = config
        self.say = reporter or _default_reporter
        self.version = KEYCLOAK_VERSION
        self.cache_dir = REPO_ROOT / ".cache" / f"keycloak-{self.version}"
        self.home = self.cache_dir / f"keycloak-{self.version}"
        self.port = config.kafka_port + 20
        self.management_port = config.kafka_port + 21
        self.state_dir = config.state_dir / "keycloak"
        self.pid_file = self.state_dir / "keycloak.pid"
        self.log_file = self.state_dir / "keycloak.log"
        self.admin_file = self.state_dir / "admin-password"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{KEYCLOAK_REALM}"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    # -- distribution
    def installed(self) -> bool:
        return (self.cache_dir / ".complete").exists() and (self.home / "bin" / "kc.sh").exists()

    def ensure_installed(self) -> None:
        if self.installed():
            return
        with _flock(self.cache_dir / ".lock"):
            if self.installed():
                return
            mvn = shutil.which("mvn")
            if not mvn:
                raise RuntimeError("mvn not found (run ensure_system_packages() or install maven)")
            self.say(f"· Keycloak {self.version}: fetching the distribution from Maven Central…")
            t0 = time.monotonic()
            tmp = self.cache_dir / f"dl.tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            cmd = [
                mvn, "-B", "-q",
                "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
                f"-Dartifact=org.keycloak:keycloak-quarkus-dist:{self.version}:zip",
                f"-DoutputDirectory={tmp}",
            ]  # fmt: skip
            r = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=self.cache_dir
            )
            zips = list(tmp.glob("keycloak-quarkus-dist-*.zip"))
            if r.returncode != 0 or not zips:
                shutil.rmtree(tmp, ignore_errors=True)
                out = (r.stdout + r.stderr)[-4000:]
                raise RuntimeError(f"fetching Keycloak failed ({r.returncode}):\n{out}")
            shutil.rmtree(self.home, ignore_errors=True)
            import zipfile

            with zipfile.ZipFile(zips[0]) as archive:
                archive.extractall(self.cache_dir)
            for script in (self.home / "bin").glob("*.sh"):
                script.chmod(0o755)
            shutil.rmtree(tmp, ignore_errors=True)
            (self.cache_dir / ".complete").write_text(self.version + "\n")
            took = time.monotonic() - t0
            self.say(f"✓ Keycloak {self.version}: unpacked in {self.home} ({took:.1f} s)")

    # -- process
    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _runs(pid, "keycloak") else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def _admin_password(self) -> str:
        try:
            return self.admin_file.read_text().strip()
        except OSError:
            import secrets

            self.state_dir.mkdir(parents=True, exist_ok=True)
            password = secrets.token_urlsafe(24)
            fd = os.open(self.admin_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password)
            return password

    def start(self) -> None:
        if self.is_running():
            return
        for port in (self.port, self.management_port):
            if not _port_free(port):
                raise RuntimeError(f"port {port} is taken: cannot start Keycloak there")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        db = self.state_dir / "h2" / "keycloakdb"
        env = {
            **os.environ,
            "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
            "KC_BOOTSTRAP_ADMIN_PASSWORD": self._admin_password(),
            "JAVA_OPTS_KC_HEAP": "-Xms64m -Xmx512m",
        }
        cmd = [
            str(self.home / "bin" / "kc.sh"), "start-dev",
            "--http-host=127.0.0.1", f"--http-port={self.port}",
            f"--http-management-port={self.management_port}",
            "--db=dev-file", f"--db-url=jdbc:h2:file:{db};NON_KEYWORDS=VALUE",
            f"--hostname={self.url}", "--log-level=WARN,org.keycloak.services:INFO,io.quarkus:INFO",
        ]  # fmt: skip
        # detached (as Kafka): a shell starts it in the background of its own new session; a
        # subshell waits for kc.sh and writes its exit status to the log (a server that dies
        # before it logs anything, or is killed, otherwise leaves no trace of why)
        launch = (
            'log="$1"; shift; ( "$@"; echo "[stack] kc.sh exited with status $? at'
            ' $(date -u +%FT%TZ)" ) </dev/null >>"$log" 2>&1 & echo $!'
        )
        r = subprocess.run(
            ["/bin/sh", "-c", launch, "sh", str(self.log_file), *cmd],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
            cwd=self.state_dir, start_new_session=True, check=True,
        )  # fmt: skip
        self.pid_file.write_text(f"{int(r.stdout.strip())}\n")

    def wait_ready(self, timeout: float = 240.0, restarts: int = 1) -> float:
        """Wait for the server, create the realm if it is new, wait for its discovery document.
        A server that exits while starting is started again `restarts` times (its log, with
        kc.sh's exit status, is kept and shown), then the failure is raised."""
        t0 = time.monotonic()
        while not self._answers(f"{self.url}/realms/master/.well-known/openid-configuration"):
            if not self.is_running():
                time.sleep(1.0)  # look twice before declaring it dead
            if not self.is_running():
                tail = _tail(self.log_file)
                if restarts <= 0:
                    raise KeycloakExited(f"Keycloak exited; log tail:\n{tail}")
                restarts -= 1
                self.say(f"! Keycloak exited while starting; starting it again. Log tail:\n{tail}")
                self.start()
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"Keycloak not ready after {timeout}s:\n{_tail(self.log_file)}")
            time.sleep(0.5)
        self.sync_realm()
        return time.monotonic() - t0

    @property
    def realm_stamp_file(self) -> Path:
        return self.state_dir / "realm.sha256"

    def sync_realm(self) -> None:
        """Create the realm from deploy/local/keycloak/realm-wuye.json if it is missing; if the
        file changed since this profile's realm was made from it (a pull brought new users,
        claims or mappers), make it again: a kept local state would otherwise sign people in
        with yesterday's claims (an agency without its `agency` claim is refused everywhere).
        Local development only: changes made by hand in the admin console go with it."""
        wanted = hashlib.sha256(KEYCLOAK_REALM_FILE.read_bytes()).hexdigest()
        try:
            made_from = self.realm_stamp_file.read_text().strip()
        except OSError:
            made_from = None
        kept: dict[str, list[str]] = {}
        if self._answers(self.discovery_url):
            if made_from == wanted:
                return
            self.say(f"· Keycloak realm '{KEYCLOAK_REALM}': {KEYCLOAK_REALM_FILE.name} changed, "
                     "making the realm again")  # fmt: skip
            # the callbacks services on other ports added (allow_redirects) stay allowed
            for client in self.admin_request("GET", f"/realms/{KEYCLOAK_REALM}/clients"):
                bases = [u.removesuffix("/auth/callback") for u in client.get("redirectUris", [])
                         if u.endswith("/auth/callback")]  # fmt: skip
                if bases:
                    kept[client["clientId"]] = bases
            self.admin_request("DELETE", f"/realms/{KEYCLOAK_REALM}")
        self.import_realm()
        clients = {c["clientId"] for c in json.loads(KEYCLOAK_REALM_FILE.read_text())["clients"]}
        for client_id, bases in kept.items():
            if client_id in clients:
                self.allow_redirects(client_id, bases)
        self.realm_stamp_file.write_text(wanted + "\n")

    @staticmethod
    def _answers(url: str) -> bool:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - loopback
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def admin_request(self, method: str, path: str, body: Any = None) -> Any:
        """A call to Keycloak's admin REST API as the bootstrap admin (local stack only)."""
        import urllib.parse
        import urllib.request

        form = urllib.parse.urlencode(
            {"grant_type": "password", "client_id": "admin-cli", "username": "admin",
             "password": self._admin_password()}
        ).encode()  # fmt: skip
        token_url = f"{self.url}/realms/master/protocol/openid-connect/token"
        with urllib.request.urlopen(token_url, data=form, timeout=30) as response:  # noqa: S310
            token = json.loads(response.read())["access_token"]
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.url}/admin{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            raw = response.read()
        return json.loads(raw) if raw else None

    def import_realm(self) -> None:
        realm = json.loads(KEYCLOAK_REALM_FILE.read_text())
        self.admin_request("POST", "/realms", realm)
        self.say(f"✓ Keycloak realm '{KEYCLOAK_REALM}' imported from {KEYCLOAK_REALM_FILE.name}")

    def allow_redirects(self, client_id: str, base_urls: list[str]) -> None:
        """Add `<base>/auth/callback` of each base URL to the client's redirect URIs, and
        `<base>/auth/signed-out` to where sign-out may return (a service
        on a port the committed realm does not list: tests, a demo on other ports)."""
        found = self.admin_request("GET", f"/realms/{KEYCLOAK_REALM}/clients?clientId={client_id}")
        client = found[0]
        uris = set(client.get("redirectUris", [])) | {f"{b}/auth/callback" for b in base_urls}
        client["redirectUris"] = sorted(uris)
        attributes = client.setdefault("attributes", {})
        after = set(filter(None, attributes.get("post.logout.redirect.uris", "").split("##")))
        after |= {f"{b}/auth/signed-out" for b in base_urls}
        attributes["post.logout.redirect.uris"] = "##".join(sorted(after - {"+"}))
        self.admin_request("PUT", f"/realms/{KEYCLOAK_REALM}/clients/{client['id']}", client)

    def stop(self, timeout: float = 30.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        try:
            group = os.getpgid(pid)  # kc.sh and its JVM share the session the shell made
        except ProcessLookupError:
            group = None
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                if group is not None and group != os.getpgid(0):
                    os.killpg(group, sig)
                else:
                    os.kill(pid, sig)
            deadline = time.monotonic() + timeout
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if not _pid_alive(pid):
                break
        self.pid_file.unlink(missing_ok=True)

    def wipe(self) -> None:
        shutil.rmtree(self.state_dir, ignore_errors=True)


# -------------------------------------------------------------------------------------------- Stack


class Stack:
    def __init__(
        self,
        config: StackConfig | None = None,
        reporter: Reporter | None = None,
        *,
        kafka_nodes: int = 1,
        pg_fast: bool | None = None,
        keycloak: bool = False,
    ) -> None:
        """`kafka_nodes` > 1: a KRaft cluster (replication factor 3, min.insync.replicas 2)
        instead of the single combined node; `pg_fast`: see Postgres (None: by profile);
        `keycloak`: `up` starts the identity provider too (tests start it lazily, on demand)."""
        self.config = config or StackConfig.for_profile("dev")
        self.say = reporter or _default_reporter
        self.kafka: Kafka | KafkaCluster = (
            KafkaCluster(self.config, self.say, kafka_nodes)
            if kafka_nodes > 1
            else Kafka(self.config, self.say)
        )
        self.postgres = Postgres(self.config, self.say, fast=pg_fast)
        self.keycloak = Keycloak(self.config, self.say)
        self.with_keycloak = keycloak
        self.timings: dict[str, float] = {}

    def up(self) -> dict[str, float]:
        """Install what is missing, start both servers (no-op for running ones), wait until
        ready. Returns timings in seconds."""
        t = time.monotonic()
        ensure_system_packages(self.say)
        self.kafka.ensure_jars()
        if self.with_keycloak:
            self.keycloak.ensure_installed()
        self.timings["prepare"] = time.monotonic() - t
        keycloak_was_running = self.keycloak.is_running()
        t_keycloak = time.monotonic()
        if self.with_keycloak and not keycloak_was_running:
            self.say(f"· Keycloak {self.keycloak.version}: starting on {self.keycloak.url}…")
            self.keycloak.start()  # the slowest to boot: first

        kafka_was_running = self.kafka.is_running()
        t_kafka = time.monotonic()
        if not kafka_was_running:
            self.say(f"· Kafka {self.kafka.version}: starting on {self.kafka.bootstrap_servers}…")
            self.kafka.start()  # detached; PostgreSQL starts while the JVM boots

        t = time.monotonic()
        if self.postgres.is_running():
            self.say(f"✓ PostgreSQL already running on 127.0.0.1:{self.config.pg_port}")
        else:
            try:
                self.postgres.start()
            except BaseException:
                if not kafka_was_running:
                    self.kafka.stop()
                raise
            self.timings["postgres_start"] = time.monotonic() - t
            self.say(
                f"✓ PostgreSQL {self.postgres.version} ready on 127.0.0.1:{self.config.pg_port} "
                f"({self.timings['postgres_start']:.1f} s, data in {self.postgres.data_dir})"
            )

        self.kafka.wait_ready()
        if kafka_was_running:
            self.say(f"✓ Kafka already running on {self.kafka.bootstrap_servers}")
        else:
            took = self.timings["kafka_start"] = time.monotonic() - t_kafka
            self.say(f"✓ Kafka ready on {self.kafka.bootstrap_servers} ({took:.1f} s)")
        if self.with_keycloak:
            self.keycloak.wait_ready()
            if keycloak_was_running:
                self.say(f"✓ Keycloak already running on {self.keycloak.url}")
            else:
                took = self.timings["keycloak_start"] = time.monotonic() - t_keycloak
                self.say(f"✓ Keycloak ready: {self.keycloak.issuer} ({took:.1f} s)")
        return dict(self.timings)

    def up_keycloak(self) -> float:
        """Start the identity provider alone (a running stack, a test that needs it)."""
        self.keycloak.ensure_installed()
        t = time.monotonic()
        if not self.keycloak.is_running():
            self.keycloak.start()
        self.keycloak.wait_ready()
        return time.monotonic() - t

    def down(self) -> None:
        errors: list[BaseException] = []
        servers: tuple[tuple[str, Kafka | KafkaCluster | Postgres | Keycloak], ...] = (
            ("Keycloak", self.keycloak),
            ("Kafka", self.kafka),
            ("PostgreSQL", self.postgres),
        )
        for name, server in servers:
            if server.is_running():
                t = time.monotonic()
                try:
                    server.stop()
                    self.say(f"✓ {name} stopped ({time.monotonic() - t:.1f} s)")
                except Exception as e:  # noqa: BLE001 (stop the other one anyway, re-raised below)
                    errors.append(e)
        if errors:
            raise errors[0]

    def wipe(self) -> None:
        """Delete all data of this profile (servers must be stopped). Jar cache is kept."""
        self.kafka.wipe()
        self.postgres.wipe()
        self.keycloak.wipe()

    def env(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "PG_ADMIN_DSN": self.postgres.dsn(),
            **({"OIDC_ISSUER": self.keycloak.issuer} if self.keycloak.is_running() else {}),
        }

    def status(self) -> dict[str, Any]:
        return {
            "profile": self.config.profile,
            "kafka": {
                "running": self.kafka.is_running(),
                "pid": self.kafka.pid(),
                "bootstrap": self.kafka.bootstrap_servers,
                "log": str(self.kafka.server_log),
                "jars_cached": self.kafka.jars_cached(),
            },
            "postgres": {
                "running": self.postgres.is_running(),
                "dsn": self.postgres.dsn(),
                "data": str(self.postgres.data_dir),
                "log": str(self.postgres.log_file),
            },
            "keycloak": {
                "running": self.keycloak.is_running(),
                "issuer": self.keycloak.issuer,
                "log": str(self.keycloak.log_file),
            },
        }

    # -- shared use by concurrent processes (pytest sessions, xdist workers) of one checkout
    def _lock(self) -> contextlib.AbstractContextManager[None]:
        return _flock(self.config.state_dir / "stack.lock")

    def _live_leases(self, exclude: Path | None = None) -> list[Path]:
        """Lease files of live processes using this profile (dead ones are removed)."""
        live = []
        for lease in (self.config.state_dir / "leases").glob("*"):
            if lease == exclude:
                continue
            try:
                alive = _pid_alive(int(lease.name))
            except ValueError:
                alive = False
            if alive:
                live.append(lease)
            else:
                lease.unlink(missing_ok=True)
        return live

    @contextlib.contextmanager
    def shared(self, *, fresh: bool = True) -> Iterator[Stack]:
        """Use the stack for the duration of the block, together with other processes.

        The first user starts it (with wiped data if `fresh`), the last one stops it. A stack
        already running without any user (started by `up` from the CLI) is reused as is and
        left running. A stack left behind by a crashed user (dead lease) is restarted fresh."""
        leases = self.config.state_dir / "leases"
        managed = self.config.state_dir / "managed-by-leases"
        me = leases / str(os.getpid())
        with self._lock():
            leases.mkdir(parents=True, exist_ok=True)
            others = self._live_leases(exclude=me)
            if not others:
                running = self.kafka.is_running() or self.postgres.is_running()
                if not running or managed.exists():
                    self.down()
                    if fresh:
                        self.wipe()
                    managed.touch()
            try:
                self.up()
            except BaseException:
                if not others and managed.exists():
                    with contextlib.suppress(Exception):
                        self.down()
                    managed.unlink(missing_ok=True)
                raise
            me.touch()
        try:
            yield self
        finally:
            with self._lock():
                me.unlink(missing_ok=True)
                if not self._live_leases(exclude=me) and managed.exists():
                    self.down()
                    managed.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local.stack", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    parser.add_argument("--profile", default=os.environ.get("WUYE_STACK_PROFILE", "dev"))
    parser.add_argument("--wipe", action="store_true", help="down: also delete the profile's data")
    parser.add_argument(
        "--force", action="store_true", help="down: stop even while pytest sessions use it"
    )
    parser.add_argument(
        "--kafka-nodes",
        type=int,
        default=None,
        help="up: a KRaft cluster of this many nodes (3: replication factor 3, "
        "min.insync.replicas 2); default: what the profile ran last, else 1",
    )
    parser.add_argument(
        "--keycloak", action="store_true", help="up: start the identity provider (Keycloak) too"
    )
    args = parser.parse_args(argv)

    def say(msg: str) -> None:
        print(msg, flush=True)

    config = StackConfig.for_profile(args.profile)
    nodes = args.kafka_nodes or len(list(config.state_dir.glob("kafka-[0-9]*"))) or 1
    stack = Stack(config, reporter=say, kafka_nodes=nodes, keycloak=args.keycloak)
    if args.command == "up":
        t0 = time.monotonic()
        with stack._lock():
            stack.up()
        say(
            f"✓ stack '{args.profile}' up ({time.monotonic() - t0:.1f} s) — "
            f'eval "$(python -m deploy.local.stack env --profile {args.profile})"'
        )
        return 0
    if args.command == "down":
        with stack._lock():
            users = stack._live_leases()
            if users and not args.force:
                pids = ", ".join(u.name for u in users)
                say(f"✗ stack '{args.profile}' is in use by pytest session(s) {pids}: not stopped")
                say("  (it stops by itself after the last one; --force stops it anyway)")
                return 1
            stack.down()
            if args.wipe:
                stack.wipe()
                say(f"✓ data of profile '{args.profile}' deleted")
            (stack.config.state_dir / "managed-by-leases").unlink(missing_ok=True)
        return 0
    if args.command == "env":
        for k, v in stack.env().items():
            print(f"export {k}={shlex.quote(v)}")
        return 0
    st = stack.status()
    k, p = st["kafka"], st["postgres"]
    assert isinstance(k, dict)
    assert isinstance(p, dict)
    print(f"profile   {args.profile}")
    print(
        f"kafka     {'running (pid ' + str(k['pid']) + ')' if k['running'] else 'stopped'}  "
        f"{k['bootstrap']}  log {k['log']}"
    )
    print(f"postgres  {'running' if p['running'] else 'stopped'}  {p['dsn']}  log {p['log']}")
    kc = st["keycloak"]
    assert isinstance(kc, dict)
    print(f"keycloak  {'running' if kc['running'] else 'stopped'}  {kc['issuer']}  log {kc['log']}")
    return 0 if k["running"] and p["running"] else 1


if __name__ == "__main__":
    sys.exit(main())
