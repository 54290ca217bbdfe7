"""A real Milvus standalone server for tests: PyPI ``milvus`` 2.3.5, from its own venv, in a
network namespace of its own, reachable only on 127.0.0.1.

``make milvus-server`` (which ``.ci/run`` runs) installs it into ``.venv-milvus`` (or use the one
in VRAAGBAAK_MILVUS_VENV), so that its pins never meet vraagbaak's; nothing is installed at test
time. Its entry point, ``milvus-server``, is a Python wrapper that unpacks the Milvus binary into
the data folder and runs ``milvus run standalone`` (embedded etcd, local storage, RocksMQ) as its
child; it has healthz on a port of its own choosing and serves gRPC and the REST API on
``--proxy-port``.

Why a namespace: Milvus 2.3 listens on all interfaces whatever its configuration says (each
server calls ``net.Listen("tcp", ":" + port)``; ``<role>.ip`` is only the address it registers),
so a test server on the host would be open to the network: gRPC, REST, metrics and the
internal ports, with no authentication. Started by ``unshare --net``, it can only ever bind in a
namespace whose one interface is its own ``lo``; one port is bridged out by socat: on the host
``TCP-LISTEN`` bound to 127.0.0.1, over a Unix socket in the data folder (the file system is
shared) to a socat inside that connects to the proxy. A deployment does not do this: there the
network is Kubernetes' (docs/operations.md, "Milvus on the network").

The fixture ``milvus_server`` (one server per session, its data in a tmp folder) yields the URI
``http://127.0.0.1:PORT``; ``milvus_process`` the processes. Without the venv, socat or a
network namespace the tests that use it are skipped, saying what is missing; with
``VRAAGBAAK_REQUIRE_MILVUS=1`` (set by ``.ci/run``) that fails them instead.

Stopping, by pid: SIGINT to the wrapper makes it SIGTERM the server, wait 1 s, then SIGKILL it
(Milvus may take 30-75 s over a graceful stop, which a tmp folder does not need); should the
wrapper not be gone after a grace period, both are killed. Then each bridge, with the
connections it forked (each side runs in a process group of its own, its pid). The namespace
ends with its last process.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_ENV = "VRAAGBAAK_MILVUS_VENV"  # another checkout's .venv-milvus (a git worktree's)
REQUIRE_ENV = "VRAAGBAAK_REQUIRE_MILVUS"
START_TIMEOUT_S = 180.0  # the wrapper's own; a cold start on 2 busy cores took ~30 s
STOP_GRACE_S = 15.0
INNER_PORT = 19530  # the proxy's port inside the namespace: nothing else is there to meet
SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes
_SERVER_PID = re.compile(r"Process:\s+(\d+)")  # the wrapper's banner names the server's pid
# The address each role registers for the others to reach it (else the first non-loopback one,
# which a namespace with only lo does not have).
ROLES = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")


@dataclass(frozen=True)
class MilvusProcess:
    uri: str
    wrapper: subprocess.Popen  # in the namespace; its process group holds the server too
    bridge: subprocess.Popen  # on the host: 127.0.0.1:PORT to the Unix socket
    data_dir: Path
    started_s: float  # from the wrapper's start to the proxy answering

    @property
    def log(self) -> Path:
        return self.data_dir / "logs"

    @property
    def folder(self) -> Path:
        return self.data_dir.parent

    def server_pid(self) -> int | None:
        """The pid of ``milvus run standalone``, as the wrapper's banner gives it."""
        found = _SERVER_PID.search(_read(self.folder / "wrapper.log"))
        return int(found.group(1)) if found else None

    def inner_bridge_pid(self) -> int | None:
        """The socat inside the namespace (the Unix socket to the proxy's port)."""
        text = _read(self.folder / "inner-bridge.pid").strip()
        return int(text) if text.isdigit() else None


def venv() -> Path:
    return Path(os.environ.get(VENV_ENV) or ROOT / ".venv-milvus")


def executable(folder: Path | None = None) -> Path | None:
    path = (folder or venv()) / "bin" / "milvus-server"
    return path if path.is_file() else None


def sandbox_missing() -> str | None:
    """Why the server cannot be kept off the network here, or None: it needs util-linux's
    ``unshare`` allowed to make a network namespace (root, or CAP_SYS_ADMIN), iproute2's ``ip``
    and socat."""
    for tool, package in (("unshare", "util-linux"), ("ip", "iproute2"), ("socat", "socat")):
        if shutil.which(tool) is None:
            return (f"`{tool}` is not installed (Debian: apt-get install {package}); the Milvus "
                    f"test server runs in a network namespace of its own")
    try:
        made = subprocess.run(["unshare", "--net", "--", "ip", "link", "set", "lo", "up"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`unshare --net` could not be run ({exc})"
    if made.returncode != 0:
        reason = (made.stderr.strip().splitlines() or ["no reason given"])[-1]
        return (f"this process may not make a network namespace (`unshare --net`: {reason}); "
                f"Milvus 2.3 listens on all interfaces, so it is not started outside one")
    return None


def start(folder: Path, timeout: float = START_TIMEOUT_S) -> MilvusProcess:
    """Start a server with its data under ``folder``; return when its proxy answers through
    the bridge on 127.0.0.1."""
    program = executable()
    if program is None:
        raise FileNotFoundError(f"no Milvus server in {venv()}: run `make milvus-server`")
    reason = sandbox_missing()
    if reason is not None:
        raise RuntimeError(reason)
    sock = folder / "proxy.sock"
    if len(str(sock)) > SOCKET_PATH_MAX:
        raise ValueError(f"{folder} is too long a path for the bridge's Unix socket")
    data_dir = folder / "milvus"
    port = free_ports(1)[0]
    began = time.monotonic()
    wrapper = _start_in_namespace(program, folder, data_dir, sock)
    try:
        bridge = _start_bridge(folder, port, sock)
    except BaseException:
        _stop_group(wrapper, STOP_GRACE_S)
        raise
    uri = f"http://127.0.0.1:{port}"
    server = MilvusProcess(uri=uri, wrapper=wrapper, bridge=bridge, data_dir=data_dir,
                           started_s=0.0)
    try:
        _wait_ready(server, began + timeout)
    except BaseException:
        stop(server)
        raise
    return MilvusProcess(uri=uri, wrapper=wrapper, bridge=bridge, data_dir=data_dir,
                         started_s=time.monotonic() - began)


def _start_in_namespace(program: Path, folder: Path, data_dir: Path,
                        sock: Path) -> subprocess.Popen:
    """``unshare --net`` runs a shell in a new namespace that brings its ``lo`` up, starts the
    inner socat and becomes the wrapper (exec): the wrapper's pid is the Popen's."""
    command = [str(program), "--data", str(data_dir), "--proxy-port", str(INNER_PORT)]
    command += [arg for role in ROLES for arg in ("--extra-config", f"{role}.ip=127.0.0.1")]
    inner = ["socat", f"UNIX-LISTEN:{sock},fork,unlink-early", f"TCP:127.0.0.1:{INNER_PORT}"]
    script = (f"ip link set lo up || exit 1\n"
              f"{shlex.join(inner)} </dev/null &\n"
              f"echo $! > {shlex.quote(str(folder / 'inner-bridge.pid'))}\n"
              f"exec {shlex.join(command)}\n")
    log = (folder / "wrapper.log").open("wb")
    try:
        # A session of its own: a test run's Ctrl+C must not reach it before stop() does
        return subprocess.Popen(["unshare", "--net", "--", "sh", "-c", script],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=folder,
                                env=os.environ | {"PYTHONUNBUFFERED": "1"})  # the banner at once
    finally:
        log.close()


def _start_bridge(folder: Path, port: int, sock: Path) -> subprocess.Popen:
    log = (folder / "bridge.log").open("wb")
    try:
        return subprocess.Popen(
            ["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr", f"UNIX-CONNECT:{sock}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=folder)
    finally:
        log.close()


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (all held at once while they are picked)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _wait_ready(server: MilvusProcess, deadline: float) -> None:
    """Ready once the wrapper has seen healthz (its banner names the pid) and the proxy's REST
    API lists collections through the bridge: the proxy is what clients talk to, and it comes
    up last."""
    while True:
        pid = server.server_pid()
        if (server.wrapper.poll() is not None or server.bridge.poll() is not None
                or (pid is not None and not alive(pid))):
            raise RuntimeError(f"the Milvus server or its bridge exited while starting; its "
                               f"logs: {server.log}\n{_tail(server)}")
        if pid is not None and _lists_collections(server.uri):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the Milvus server was not ready within the time allowed; "
                               f"its logs: {server.log}\n{_tail(server)}")
        time.sleep(0.2)


def _lists_collections(uri: str) -> bool:
    try:
        with urllib.request.urlopen(f"{uri}/v1/vector/collections", timeout=2) as response:
            return json.loads(response.read()).get("code") == 200
    except (OSError, ValueError):  # refused, reset, timed out, not JSON yet
        return False


def stop(server: MilvusProcess, grace: float = STOP_GRACE_S) -> None:
    """Stop the wrapper and its server by pid: SIGINT (the wrapper stops the server within
    ~4 s), then SIGKILL for both after ``grace``; then the bridges, and whatever is left in
    either process group (socat's forked connections)."""
    pid = server.server_pid()
    if server.wrapper.poll() is None:
        server.wrapper.send_signal(signal.SIGINT)
        try:
            server.wrapper.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            server.wrapper.kill()
            server.wrapper.wait(timeout=grace)
    for orphan in (pid, server.inner_bridge_pid()):  # their parent, the wrapper, is gone
        if orphan is not None and alive(orphan):
            os.kill(orphan, signal.SIGKILL)
            _wait_gone([orphan], grace)
    _stop_group(server.wrapper, grace)
    _stop_group(server.bridge, grace)


def _stop_group(process: subprocess.Popen, grace: float) -> None:
    """SIGKILL ``process`` and the members of its process group (its pid: it was started in a
    session of its own, so the group holds only what it started)."""
    members = group_members(process.pid)
    if process.poll() is None:
        process.kill()
        process.wait(timeout=grace)
    for pid in members:
        if pid != process.pid and alive(pid):
            os.kill(pid, signal.SIGKILL)
    _wait_gone(members, grace)


def group_members(pgid: int) -> list[int]:
    """The live processes in process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[2] == str(pgid) and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _wait_gone(pids: list[int], grace: float) -> None:
    deadline = time.monotonic() + grace
    while any(alive(p) for p in pids) and time.monotonic() < deadline:  # a kill is not instant
        time.sleep(0.05)


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command's name: state, ppid, pgrp, ..."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def alive(pid: int) -> bool:
    """Running, not a zombie (a zombie's parent, or init, reaps it)."""
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] != "Z"


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _tail(server: MilvusProcess, lines: int = 20) -> str:
    text = (_read(server.folder / "wrapper.log") + _read(server.folder / "bridge.log")
            + _read(server.log / "milvus-stderr.log"))
    return "\n".join(text.splitlines()[-lines:])


def missing() -> str | None:
    """Why no test server can be started here, or None."""
    if executable() is None:
        return (f"no Milvus server in {venv()} (run `make milvus-server` to install it, or "
                f"point {VENV_ENV} at a .venv-milvus)")
    return sandbox_missing()


def skip_or_fail(reason: str) -> None:
    """Skip locally; under VRAAGBAAK_REQUIRE_MILVUS=1 (CI) a missing server is a failure."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: the Milvus tests must run here)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def milvus_process(tmp_path_factory) -> MilvusProcess:
    """A real Milvus standalone server, reachable on 127.0.0.1 only, for the whole session."""
    reason = missing()
    if reason is not None:
        skip_or_fail(reason)
    server = start(tmp_path_factory.mktemp("milvus-server"))
    try:
        yield server
    finally:
        stop(server)


@pytest.fixture(scope="session")
def milvus_server(milvus_process) -> str:
    """The URI of the session's Milvus server, ``http://127.0.0.1:PORT``."""
    return milvus_process.uri
