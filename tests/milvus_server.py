"""A real Milvus standalone server for tests: PyPI ``milvus`` 2.3.5, from its own venv.

``make milvus-server`` (which ``.ci/run`` runs) installs it into ``.venv-milvus`` (or use the one
in VRAAGBAAK_MILVUS_VENV), so that its pins never meet vraagbaak's; nothing is installed at test
time. Its entry point, ``milvus-server``, is a Python wrapper that unpacks the Milvus binary into
the data folder and runs ``milvus run standalone`` (embedded etcd, local storage, RocksMQ) as its child; it has
healthz on a port of its own choosing and serves gRPC and the REST API on ``--proxy-port``.

The fixture ``milvus_server`` (one server per session, its data in a tmp folder) yields the URI
``http://127.0.0.1:PORT``. Without the venv the tests that use it are skipped, saying how to get
it; with ``VRAAGBAAK_REQUIRE_MILVUS=1`` (set by ``.ci/run``) its absence fails them instead.

Stopping: SIGINT to the wrapper makes it SIGTERM the server, wait 1 s, then SIGKILL it (Milvus
may take 30-75 s over a graceful stop, which a tmp folder does not need). Should the wrapper not
be gone after a grace period, both are killed by pid.
"""

from __future__ import annotations

import json
import os
import re
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
_SERVER_PID = re.compile(r"Process:\s+(\d+)")  # the wrapper's banner names the server's pid
# Each port the wrapper lets us set (it picks healthz's itself, from 9091 up): given free ones,
# two servers starting at once cannot both probe their way to the same default.
PORT_OPTIONS = ("--proxy-port", "--etcd-port", "--root-coord-port", "--proxy-internal-port",
                "--query-coord-port", "--query-node-port", "--index-coord-port",
                "--index-node-port", "--data-coord-port", "--data-node-port")
# The address each role registers for the others to reach it (else the first non-loopback one).
# Milvus 2.3 listens on all interfaces whatever this says; only the ports are its own.
ROLES = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")


@dataclass(frozen=True)
class MilvusProcess:
    uri: str
    wrapper: subprocess.Popen
    data_dir: Path
    started_s: float  # from the wrapper's start to the proxy answering

    @property
    def log(self) -> Path:
        return self.data_dir / "logs"

    def server_pid(self) -> int | None:
        """The pid of ``milvus run standalone``, as the wrapper's banner gives it."""
        found = _SERVER_PID.search(_read(self.data_dir.parent / "wrapper.log"))
        return int(found.group(1)) if found else None


def venv() -> Path:
    return Path(os.environ.get(VENV_ENV) or ROOT / ".venv-milvus")


def executable(folder: Path | None = None) -> Path | None:
    path = (folder or venv()) / "bin" / "milvus-server"
    return path if path.is_file() else None


def start(folder: Path, timeout: float = START_TIMEOUT_S) -> MilvusProcess:
    """Start a server with its data under ``folder``; return when its proxy answers."""
    program = executable()
    if program is None:
        raise FileNotFoundError(f"no Milvus server in {venv()}: run `make milvus-server`")
    ports = free_ports(len(PORT_OPTIONS) + 1)
    etcd_peer, ports = ports[0], dict(zip(PORT_OPTIONS, ports[1:]))
    data_dir = folder / "milvus"
    command = [str(program), "--data", str(data_dir)]
    command += [arg for option, port in ports.items() for arg in (option, str(port))]
    command += [arg for role in ROLES for arg in ("--extra-config", f"{role}.ip=127.0.0.1")]
    env = os.environ | {"PYTHONUNBUFFERED": "1",  # the banner, with the server's pid, at once
                        "ETCD_CONFIG_PATH": str(_etcd_config(folder, ports["--etcd-port"],
                                                             etcd_peer))}
    wrapper_log = (folder / "wrapper.log").open("wb")
    began = time.monotonic()
    # A session of its own: a test run's Ctrl+C must not reach it before stop() does
    wrapper = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=wrapper_log,
                               stderr=subprocess.STDOUT, start_new_session=True, cwd=folder,
                               env=env)
    wrapper_log.close()
    uri = f"http://127.0.0.1:{ports['--proxy-port']}"
    server = MilvusProcess(uri=uri, wrapper=wrapper, data_dir=data_dir, started_s=0.0)
    try:
        _wait_ready(server, began + timeout)
    except BaseException:
        stop(server)
        raise
    return MilvusProcess(uri=uri, wrapper=wrapper, data_dir=data_dir,
                         started_s=time.monotonic() - began)


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


def _etcd_config(folder: Path, client: int, peer: int) -> Path:
    """The embedded etcd's listen addresses: by default it takes localhost:2379 and :2380, so a
    second server on the machine (a developer's own) would fail to start; Milvus reads this file
    from ETCD_CONFIG_PATH (its setting etcd.config.path)."""
    path = folder / "etcd.yaml"
    path.write_text(f"name: vraagbaak-test\n"
                    f"listen-client-urls: http://127.0.0.1:{client}\n"
                    f"advertise-client-urls: http://127.0.0.1:{client}\n"
                    f"listen-peer-urls: http://127.0.0.1:{peer}\n"
                    f"initial-advertise-peer-urls: http://127.0.0.1:{peer}\n"
                    f"initial-cluster: vraagbaak-test=http://127.0.0.1:{peer}\n")
    return path


def _wait_ready(server: MilvusProcess, deadline: float) -> None:
    """Ready once the wrapper has seen healthz (its banner names the pid) and the proxy's REST
    API lists collections: the proxy is what clients talk to, and it comes up last."""
    while True:
        pid = server.server_pid()
        if server.wrapper.poll() is not None or (pid is not None and not alive(pid)):
            raise RuntimeError(f"the Milvus server exited while starting; its logs: "
                               f"{server.log}\n{_tail(server)}")
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
    ~4 s), then SIGKILL for both after ``grace``."""
    pid = server.server_pid()
    if server.wrapper.poll() is None:
        server.wrapper.send_signal(signal.SIGINT)
        try:
            server.wrapper.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            server.wrapper.kill()
            server.wrapper.wait(timeout=grace)
    if pid is not None and alive(pid):
        os.kill(pid, signal.SIGKILL)  # orphaned: its parent, the wrapper, is gone
        deadline = time.monotonic() + grace
        while alive(pid) and time.monotonic() < deadline:  # a kill is not instant
            time.sleep(0.05)


def alive(pid: int) -> bool:
    """Running, not a zombie (a zombie's parent, or init, reaps it)."""
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z")
    except (OSError, IndexError):
        return False


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _tail(server: MilvusProcess, lines: int = 20) -> str:
    text = _read(server.data_dir.parent / "wrapper.log") + _read(server.log / "milvus-stderr.log")
    return "\n".join(text.splitlines()[-lines:])


def missing() -> str:
    return (f"no Milvus server in {venv()} (run `make milvus-server` to install it, or point "
            f"{VENV_ENV} at a .venv-milvus)")


def skip_or_fail(reason: str) -> None:
    """Skip locally; under VRAAGBAAK_REQUIRE_MILVUS=1 (CI) a missing server is a failure."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: the Milvus tests must run here)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory) -> str:
    """The URI of a real Milvus standalone server on 127.0.0.1, for the whole session."""
    if executable() is None:
        skip_or_fail(missing())
    server = start(tmp_path_factory.mktemp("milvus-server"))
    try:
        yield server.uri
    finally:
        stop(server)
