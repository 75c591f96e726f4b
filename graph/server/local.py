"""Start, stop and inspect a local Neo4j Community 5.26 server run from its Maven Central jars.

Why this exists: the machines tradegraph targets have Java and Maven but no Docker, so the
project resolves ``org.neo4j:neo4j`` and the server module into a jar cache once
(``graph/server/pom.xml``) and runs ``org.neo4j.server.CommunityEntryPoint`` itself, with the
JVM flags Neo4j's own launcher would pass (the entry point does not read
``server.jvm.additional``).

Layout of a server's data folder (default ``.tradegraph/neo4j``)::

    conf/neo4j.conf   written by us on every start
    data/ logs/ run/ import/ plugins/
    auth.json         generated password (mode 0600), set before the first start
    server.json       pid, ports, version and start time of the running server
    VERSION           the Neo4j version that created the store

Authentication is on: the first start generates a random password, sets it with
``neo4j-admin dbms set-initial-password`` (reading it from a private file, never from the
command line, where ``ps`` would show it to every local user) and keeps it in ``auth.json``.
Bolt listens on 127.0.0.1 only. The data folder is the owner's only: folders 0700, files 0600,
and the server and ``neo4j-admin`` run under umask 077, so the store, transaction logs,
``auth.ini`` and the logs they write stay private too. ``stop`` signals a pid only after
checking that it is this folder's Neo4j (its command line and start time), never whatever
process reuses a stale pid. All of this matters on a shared machine, where any local user
could otherwise read or wipe the graph.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from graph.server.errors import Neo4jSetupError
from graph.server.java import JavaRuntime, find_java

DEFAULT_VERSION = "5.26.30"
NEO4J_USER = "neo4j"

#: JVM flags from Neo4j 5.26's launcher and default ``server.jvm.additional``.
JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
)
_ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
_ADMIN_TOOL = "org.neo4j.cli.AdminTool"
_START_TIMEOUT_S = 180.0
#: Marks a fully resolved jar folder; the suffix changes when the folder's layout does.
_COMPLETE = ".complete-v2"
_STOP_TIMEOUT_S = 120.0
#: Everything in the data folder is the owner's only.
_PRIVATE_UMASK = 0o077
_PRIVATE_DIR = 0o700
_PRIVATE_FILE = 0o600
#: What tradegraph keeps in a data folder; only these are made private recursively, so a data
#: folder pointed at by mistake (a home folder) never has its other files' modes changed.
_OWNED_DIRS = ("conf", "data", "logs", "run", "import", "plugins")
_OWNED_FILES = ("auth.json", "server.json", "VERSION")


@dataclass(frozen=True)
class LocalServerConfig:
    """Where and how the local server runs.

    Args:
        data_dir: folder holding conf, store, logs and the generated password.
        bolt_port: Bolt port on 127.0.0.1 (default 7687).
        http_port: HTTP port on 127.0.0.1, used only with ``browser``.
        heap: JVM heap (``-Xms``/``-Xmx``); 3g suits a 2-core 24 GiB machine.
        pagecache: Neo4j page cache; 3g holds the default marketplace ten times over.
        version: Neo4j version to resolve from Maven Central.
        jar_cache: folder of resolved jars, shared by every data folder on the machine.
        java_home: a Java 17 or 21 to use instead of the first one found.
        browser: also serve Neo4j Browser over HTTP on loopback.
        apoc: add APOC core as a plugin when it resolves.
        gds: add OpenGDS 2.13 (the Graph Data Science line for 5.26) as a plugin when it
            resolves.
    """

    data_dir: Path
    bolt_port: int = 7687
    http_port: int = 7474
    heap: str = "3g"
    pagecache: str = "3g"
    version: str = DEFAULT_VERSION
    jar_cache: Path = field(default_factory=lambda: Path.home() / ".cache/tradegraph/neo4j")
    java_home: Path | None = None
    browser: bool = False
    apoc: bool = True
    gds: bool = True

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def lib_dir(self) -> Path:
        return self.jar_cache / self.version / "lib"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "console.log"


@dataclass(frozen=True)
class ServerInfo:
    """A running local server: where it answers and how to log in."""

    uri: str
    user: str
    password: str
    pid: int
    startup_seconds: float
    already_running: bool
    log_file: Path
    browser_url: str | None = None


Say = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# --- jars ---------------------------------------------------------------------------------


def _pom_path() -> Path:
    return Path(str(resources.files("graph.server") / "pom.xml"))


def _run_maven(args: list[str], what: str) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise Neo4jSetupError(
            f"Maven is needed once to download {what} from Maven Central, and `mvn` is not on "
            "the PATH. Install it (e.g. `apt-get install maven`), or point NEO4J_URI at a "
            "Neo4j server you already run."
        )
    proc = subprocess.run(
        [mvn, "-B", "-q", "-f", str(_pom_path()), *args], capture_output=True, text=True
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        raise Neo4jSetupError(
            f"Could not download {what} from Maven Central (is it reachable from this "
            f"machine? a proxy may need MAVEN_OPTS). Maven said:\n{tail}"
        )


def ensure_jars(config: LocalServerConfig, say: Say = _quiet) -> Path:
    """Resolve the server's jars into the cache once; later calls return at once."""
    lib = config.lib_dir
    if (lib / _COMPLETE).exists():
        return lib
    say(f"Downloading Neo4j {config.version} from Maven Central into {lib} (once)...")
    staging = lib.with_name("lib.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _run_maven(
            [
                f"-Dneo4j.version={config.version}",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
                "-Dmdep.prependGroupId=true",
            ],
            f"Neo4j {config.version}",
        )
    except Neo4jSetupError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    (staging / _COMPLETE).write_text(config.version)
    shutil.rmtree(lib, ignore_errors=True)
    staging.rename(lib)
    return lib


def _ensure_extra(config: LocalServerConfig, profile: str, say: Say) -> Path | None:
    """Jars a Maven profile adds beyond the server's own, in a folder of their own.

    Returns None (and says why) when they cannot be resolved: extras are optional.
    """
    folder = config.jar_cache / config.version / profile
    if (folder / _COMPLETE).exists():
        return folder
    staging = folder.with_name(profile + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _run_maven(
            [
                f"-Dneo4j.version={config.version}",
                f"-P{profile}",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
                "-Dmdep.prependGroupId=true",
            ],
            profile,
        )
    except Neo4jSetupError as err:
        say(f"{profile} is not available, continuing without it: {err}")
        shutil.rmtree(staging, ignore_errors=True)
        return None
    server_artifacts = {_artifact_name(p.name) for p in config.lib_dir.glob("*.jar")}
    for jar in staging.glob("*.jar"):
        if _artifact_name(jar.name) in server_artifacts:
            jar.unlink()  # the server already has it: never load two versions of one library
    (staging / _COMPLETE).write_text(profile)
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder


def _artifact_name(jar_name: str) -> str:
    """``io.netty.netty-common-4.1.137.Final.jar`` -> ``io.netty.netty-common`` (jars are
    copied with their group id in front, so org.neo4j:annotations and org.neo4j.gds:annotations
    stay apart)."""
    parts = jar_name.removesuffix(".jar").split("-")
    for i, part in enumerate(parts):
        if part[:1].isdigit():
            return "-".join(parts[:i])
    return "-".join(parts)


# --- state files --------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read: created 0600 (never briefly wider),
    and an existing file is narrowed to 0600 too."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _PRIVATE_FILE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, _PRIVATE_FILE)


def make_private(data_dir: Path) -> None:
    """Narrow the data folder and what tradegraph keeps in it to its owner: folders 0700,
    files 0600 (an owner's execute bit is kept). Folders written before this rule existed
    (a store created 0644 by an older tradegraph) are fixed on the next start."""
    data_dir = Path(data_dir)
    data_dir.chmod(_PRIVATE_DIR)
    for name in _OWNED_FILES:
        path = data_dir / name
        if path.is_file() and not path.is_symlink():
            path.chmod(_PRIVATE_FILE)
    for name in _OWNED_DIRS:
        top = data_dir / name
        if not top.is_dir() or top.is_symlink():
            continue
        for root, _dirs, files in os.walk(top):
            os.chmod(root, _PRIVATE_DIR)
            for file in files:
                path = Path(root) / file
                if not path.is_symlink():
                    mode = path.stat().st_mode
                    path.chmod(_PRIVATE_FILE | (mode & 0o100))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is not alive
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
        return status != "Z"
    except OSError:
        return True


def _process_start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (Linux ``/proc``); None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:  # the command name (field 2) may hold spaces and parentheses: split after the last ")"
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


def _command_line(pid: int) -> list[str] | None:
    """The argv of ``pid`` (``/proc`` on Linux, ``ps`` elsewhere), or None if unreadable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return None  # Linux, and the process is gone
    except OSError:
        return None
    try:
        proc = subprocess.run(
            ["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.split() if proc.returncode == 0 and proc.stdout.strip() else None


def _is_our_server(pid: int, config: LocalServerConfig, state: dict[str, Any]) -> bool:
    """Is ``pid`` the Neo4j of this data folder? Its command line must run Neo4j's entry point
    with this folder as ``--home-dir``, and (where ``/proc`` tells) it must have started when
    ``server.json`` says: a pid reused by another process after a crash is never ours."""
    argv = _command_line(pid)
    if not argv or _ENTRY_POINT not in argv:
        return False
    homes = [a.split("=", 1)[1] for a in argv if a.startswith("--home-dir=")]
    if not any(Path(h).resolve() == Path(config.data_dir).resolve() for h in homes):
        return False
    recorded = state.get("process_start")
    return recorded is None or _process_start_ticks(pid) in (None, recorded)


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def read_password(data_dir: Path) -> str | None:
    """The generated password of a local server's data folder, if it has one."""
    auth = _read_json(Path(data_dir) / "auth.json")
    return auth.get("password") if auth else None


def _write_conf(config: LocalServerConfig) -> Path:
    d = config.data_dir
    conf_dir = d / "conf"
    conf_dir.mkdir(parents=True, exist_ok=True, mode=_PRIVATE_DIR)
    for sub in ("data", "logs", "run", "import", "plugins"):
        (d / sub).mkdir(exist_ok=True, mode=_PRIVATE_DIR)
    lines = [
        "# Written by tradegraph on every start; edit the settings, not this file.",
        "server.default_listen_address=127.0.0.1",
        f"server.bolt.listen_address=127.0.0.1:{config.bolt_port}",
        f"server.bolt.advertised_address=127.0.0.1:{config.bolt_port}",
        f"server.http.enabled={'true' if config.browser else 'false'}",
        f"server.http.listen_address=127.0.0.1:{config.http_port}",
        "server.https.enabled=false",
        "dbms.usage_report.enabled=false",
        "dbms.security.auth_enabled=true",
        f"server.directories.data={d / 'data'}",
        f"server.directories.logs={d / 'logs'}",
        f"server.directories.run={d / 'run'}",
        f"server.directories.import={d / 'import'}",
        f"server.directories.plugins={d / 'plugins'}",
        f"server.memory.heap.initial_size={config.heap}",
        f"server.memory.heap.max_size={config.heap}",
        f"server.memory.pagecache.size={config.pagecache}",
        # 2 cores: keep Bolt's worker pool and transaction memory modest.
        "server.bolt.thread_pool_max_size=64",
        "db.memory.transaction.total.max=2g",
        "db.transaction.timeout=0s",
        # Transaction logs are kept 2 days by default: 16 GB after a 10M-order online load.
        # The local server is not backed up incrementally, so keep only the newest 1 GB.
        "db.tx_log.rotation.retention_policy=1G size",
        "dbms.security.procedures.unrestricted=apoc.*,gds.*",
        "dbms.security.procedures.allowlist=apoc.*,gds.*,db.*,dbms.*,tx.*",
    ]
    write_private(conf_dir / "neo4j.conf", "\n".join(lines) + "\n")
    return conf_dir


def _classpath(config: LocalServerConfig, extras: list[Path]) -> str:
    """``plugins/*`` then ``lib/*``, as Neo4j's own launcher orders them: plugins register
    extension factories through the server's classpath, not only through the plugins folder."""
    entries = [str(config.data_dir / "plugins" / "*"), str(config.lib_dir / "*")]
    entries += [str(p / "*") for p in extras]
    return os.pathsep.join(entries)


def _java_cmd(
    java: JavaRuntime, config: LocalServerConfig, main: str, extras: list[Path] | None = None
) -> list[str]:
    return [
        str(java.executable),
        f"-Xms{config.heap}",
        f"-Xmx{config.heap}",
        *JVM_FLAGS,
        "-cp",
        _classpath(config, extras or []),
        main,
    ]


def _check_store_version(config: LocalServerConfig) -> None:
    marker = config.data_dir / "VERSION"
    store = config.data_dir / "data" / "databases"
    if marker.exists():
        found = marker.read_text().strip()
        if found.split(".")[:2] != config.version.split(".")[:2]:
            raise Neo4jSetupError(
                f"The data folder {config.data_dir} was written by Neo4j {found}, and this "
                f"server is {config.version}. Use another folder (TRADEGRAPH_NEO4J_DATA_DIR) or "
                "migrate the store with that version's neo4j-admin first."
            )
    elif store.exists() and any(store.iterdir()):
        raise Neo4jSetupError(
            f"The data folder {config.data_dir} holds a Neo4j store that tradegraph did not "
            "create (no VERSION file). Point TRADEGRAPH_NEO4J_DATA_DIR at an empty folder, or "
            "at that server with NEO4J_URI."
        )


def _set_initial_password(java: JavaRuntime, config: LocalServerConfig) -> str:
    """Generate the password, have ``neo4j-admin`` write it to ``data/dbms/auth.ini`` and keep
    it in ``auth.json``. The tool reads it from a 0600 file (picocli's ``@file`` argument), so
    it never appears in a process's arguments."""
    auth_file = config.data_dir / "auth.json"
    if (password := read_password(config.data_dir)) is not None:
        return password
    # Hex after a letter: never read as an option, nothing for @file parsing to unquote.
    password = "tg" + secrets.token_hex(16)
    env = {
        **os.environ,
        "NEO4J_HOME": str(config.data_dir),
        "NEO4J_CONF": str(config.data_dir / "conf"),
    }
    argument_file = config.data_dir / "run" / "initial-password.args"
    write_private(argument_file, password + "\n")
    cmd = [
        str(java.executable),
        *JVM_FLAGS,
        "-cp",
        _classpath(config, []),
        _ADMIN_TOOL,
        "dbms",
        "set-initial-password",
        f"@{argument_file}",
    ]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env=env,
            cwd=config.data_dir,
            umask=_PRIVATE_UMASK,
        )
    finally:
        argument_file.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise Neo4jSetupError(
            "Could not set the local server's initial password: "
            + (proc.stderr or proc.stdout).replace(password, "***").strip()[-500:]
        )
    write_private(auth_file, json.dumps({"user": NEO4J_USER, "password": password}))
    return password


def _bolt_answers(uri: str, password: str, timeout: float = 5.0) -> bool:
    """True when the server at ``uri`` runs ``RETURN 1`` for our user (no driver retries)."""
    from neo4j import GraphDatabase
    from neo4j.exceptions import DriverError, Neo4jError

    port = int(uri.rsplit(":", 1)[1])
    if not _port_in_use(port):
        return False
    try:
        with (
            GraphDatabase.driver(
                uri,
                auth=(NEO4J_USER, password),
                connection_timeout=timeout,
                max_transaction_retry_time=0,
            ) as driver,
            driver.session() as session,
        ):
            record = session.run("RETURN 1 AS ok").single()
            return record is not None and record["ok"] == 1
    except (DriverError, Neo4jError, OSError):
        return False


def _wait_until_answers(pid: int, uri: str, password: str) -> bool:
    """Wait for a server process (maybe still starting) to answer; False if it dies or hangs."""
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline and _pid_alive(pid):
        if _bolt_answers(uri, password, timeout=2.0):
            return True
        time.sleep(0.5)
    return False


def _log_tail(config: LocalServerConfig, lines: int = 15) -> str:
    out = []
    for path in (config.log_file, config.data_dir / "logs" / "neo4j.log"):
        if path.exists():
            out.extend(path.read_text(errors="replace").splitlines()[-lines:])
    return "\n".join(out[-lines:])


# --- lifecycle ----------------------------------------------------------------------------


def status(config: LocalServerConfig) -> dict[str, Any]:
    """What runs in this data folder: ``{"running": bool, "pid", "uri", ...}``."""
    state = _read_json(config.data_dir / "server.json") or {}
    pid = state.get("pid")
    running = pid is not None and _pid_alive(int(pid)) and _is_our_server(int(pid), config, state)
    return {
        "running": running,
        "pid": pid if running else None,
        "uri": state.get("uri", config.uri),
        "data_dir": str(config.data_dir),
        "version": state.get("version", config.version),
        "log_file": str(config.log_file),
        "started_at": state.get("started_at") if running else None,
        "browser_url": state.get("browser_url") if running else None,
    }


def start(config: LocalServerConfig, say: Say = _quiet) -> ServerInfo:
    """Start the server (or find it running) and return once it answers ``RETURN 1``.

    Idempotent: a server already running in this data folder is returned as is.
    Raises :class:`Neo4jSetupError` with what to do next on any setup problem.
    """
    config.data_dir.mkdir(parents=True, exist_ok=True)
    running = _already_running(config)
    if running is not None:
        return running
    t0 = time.perf_counter()
    java = find_java(config.java_home)
    extras = _preflight(config, say)
    config.data_dir.chmod(_PRIVATE_DIR)  # before anything private is written into it
    conf_dir = _write_conf(config)
    _install_plugins(config, say)
    password = _set_initial_password(java, config)
    write_private(config.data_dir / "VERSION", config.version)
    make_private(config.data_dir)
    proc = _launch(config, java, conf_dir, extras)
    return _wait_for_bolt(config, proc, password, t0)


def _already_running(config: LocalServerConfig) -> ServerInfo | None:
    """The server already running in this data folder, or ``None``; one that owns the folder
    but does not answer is an error."""
    current = status(config)
    if not current["running"]:
        return None
    password = read_password(config.data_dir) or ""
    if not _wait_until_answers(int(current["pid"]), current["uri"], password):
        raise Neo4jSetupError(
            f"A server process (pid {current['pid']}) owns {config.data_dir} but does not "
            f"answer on {current['uri']}. Run `tradegraph neo4j stop`, then start again; "
            f"log: {config.log_file}"
        )
    return ServerInfo(
        uri=current["uri"],
        user=NEO4J_USER,
        password=password,
        pid=int(current["pid"]),
        startup_seconds=0.0,
        already_running=True,
        log_file=config.log_file,
        browser_url=current.get("browser_url"),
    )


def _preflight(config: LocalServerConfig, say: Say) -> list[Path]:
    """Jars present, store version readable, ports free; returns the extra class-path
    folders (Neo4j Browser when asked for)."""
    ensure_jars(config, say)
    _check_store_version(config)
    if _port_in_use(config.bolt_port):
        raise Neo4jSetupError(
            f"Port {config.bolt_port} on 127.0.0.1 is already taken by another program. Stop "
            "it, choose another port with TRADEGRAPH_NEO4J_BOLT_PORT, or point NEO4J_URI at "
            "that server if it is a Neo4j you want to use."
        )
    if config.browser and _port_in_use(config.http_port):
        raise Neo4jSetupError(
            f"Port {config.http_port} (Neo4j Browser) is already taken; choose another with "
            "TRADEGRAPH_NEO4J_HTTP_PORT."
        )
    extras: list[Path] = []
    if config.browser:
        browser = _ensure_extra(config, "browser", say)
        if browser is None:
            raise Neo4jSetupError("Neo4j Browser could not be downloaded; start without --browser.")
        extras.append(browser)
    return extras


def _launch(
    config: LocalServerConfig, java: JavaRuntime, conf_dir: Path, extras: list[Path]
) -> subprocess.Popen[bytes]:
    """Start the server process in its own session, logging to the folder's log, and record
    it in ``server.json`` (pid and start time, so ``stop`` signals only this process)."""
    cmd = [
        *_java_cmd(java, config, _ENTRY_POINT, extras),
        f"--home-dir={config.data_dir.resolve()}",
        f"--config-dir={conf_dir.resolve()}",
    ]
    log_fd = os.open(config.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, _PRIVATE_FILE)
    with os.fdopen(log_fd, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=config.data_dir,
            start_new_session=True,  # outlives the CLI, and Ctrl-C in the shell doesn't kill it
            umask=_PRIVATE_UMASK,  # the store, transaction logs and logs it writes stay private
        )
    write_private(
        config.data_dir / "server.json",
        json.dumps(
            {
                "pid": proc.pid,
                "process_start": _process_start_ticks(proc.pid),
                "uri": config.uri,
                "version": config.version,
                "java": str(java.executable),
                "started_at": time.time(),
                "browser_url": _browser_url(config),
            }
        ),
    )
    return proc


def _browser_url(config: LocalServerConfig) -> str | None:
    return f"http://127.0.0.1:{config.http_port}/browser/" if config.browser else None


def _wait_for_bolt(
    config: LocalServerConfig, proc: subprocess.Popen[bytes], password: str, t0: float
) -> ServerInfo:
    """Wait until the new server answers on Bolt; a process that exits or a server that does
    not answer in time is an error with the log's tail."""
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            (config.data_dir / "server.json").unlink(missing_ok=True)
            raise Neo4jSetupError(
                f"Neo4j exited during startup (code {proc.returncode}). Full log: "
                f"{config.log_file}\n{_log_tail(config)}"
            )
        if _bolt_answers(config.uri, password, timeout=2.0):
            return ServerInfo(
                uri=config.uri,
                user=NEO4J_USER,
                password=password,
                pid=proc.pid,
                startup_seconds=time.perf_counter() - t0,
                already_running=False,
                log_file=config.log_file,
                browser_url=_browser_url(config),
            )
        time.sleep(0.5)
    _terminate(proc.pid)
    raise Neo4jSetupError(
        f"Neo4j did not answer on {config.uri} within {_START_TIMEOUT_S:.0f}s. Log: "
        f"{config.log_file}\n{_log_tail(config)}"
    )


def _install_plugins(config: LocalServerConfig, say: Say) -> None:
    """Copy the optional plugins (each resolved into its own jar folder) into ``plugins/``."""
    plugins = config.data_dir / "plugins"
    for old in plugins.glob("*.jar"):
        old.unlink()
    wanted = [name for name, on in (("apoc", config.apoc), ("gds", config.gds)) if on]
    for profile in wanted:
        folder = _ensure_extra(config, profile, say)
        if folder is None:
            continue
        for jar in folder.glob("*.jar"):
            if not (plugins / jar.name).exists():
                shutil.copy2(jar, plugins / jar.name)


def _terminate(pid: int, timeout: float = _STOP_TIMEOUT_S) -> bool:
    """SIGTERM (Neo4j then checkpoints and closes the store cleanly), SIGKILL as a last resort."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            _reap(pid)
            return True
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    _reap(pid)
    return False


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(config: LocalServerConfig) -> bool:
    """Stop the server of this data folder; returns False when none was running (no error)."""
    current = status(config)
    if not current["running"]:
        (config.data_dir / "server.json").unlink(missing_ok=True)  # stale, from a crash
        return False
    clean = _terminate(int(current["pid"]))
    (config.data_dir / "server.json").unlink(missing_ok=True)
    if not clean:
        raise Neo4jSetupError(
            f"Neo4j did not shut down within {_STOP_TIMEOUT_S:.0f}s and was killed; it will "
            f"recover from its transaction log on the next start. Log: {config.log_file}"
        )
    return True


def admin_command(config: LocalServerConfig, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``neo4j-admin ARGS`` against this data folder (the server must be stopped for
    commands that write the store, such as ``database import full``)."""
    java = find_java(config.java_home)
    ensure_jars(config)
    conf_dir = _write_conf(config)
    env = {**os.environ, "NEO4J_HOME": str(config.data_dir), "NEO4J_CONF": str(conf_dir)}
    cmd = [
        str(java.executable),
        f"-Xmx{config.heap}",
        *JVM_FLAGS,
        "-cp",
        _classpath(config, []),
        _ADMIN_TOOL,
        *args,
    ]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=env,
        cwd=config.data_dir,
        umask=_PRIVATE_UMASK,
    )
