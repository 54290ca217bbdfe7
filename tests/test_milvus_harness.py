"""The Milvus standalone server the tests use (tests/milvus_server.py): it starts, a real client
works against it, nothing of it listens on the host but the bridge on 127.0.0.1, and it is
stopped by pid, bridges too, also when its wrapper does not stop it."""

from __future__ import annotations

import ipaddress
import os
import signal
from pathlib import Path

import pytest

from tests import milvus_server as harness


@pytest.fixture
def pymilvus():
    try:
        import pymilvus
    except ImportError:
        harness.skip_or_fail("pymilvus is not installed (pip install -e '.[milvus]')")
    return pymilvus


def test_a_client_writes_filters_and_deletes(milvus_server, pymilvus):
    client = pymilvus.MilvusClient(uri=milvus_server)
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", pymilvus.DataType.INT64, is_primary=True)
    schema.add_field("vector", pymilvus.DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("date", pymilvus.DataType.INT64)
    params = client.prepare_index_params()
    params.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection("harness", schema=schema, index_params=params)
    try:
        rows = [{"id": i, "vector": [1.0, i / 10, 0.0, 0.0], "date": 20240301 + i}
                for i in range(10)]
        client.upsert("harness", rows)
        client.delete("harness", ids=[9])
        found = client.search("harness", [[0.0, 1.0, 0.0, 0.0]], limit=3,
                              filter="date <= 20240308", consistency_level="Strong")
        # the largest second coordinate wins; 9 is deleted, 8 is past the date
        assert [hit["id"] for hit in found[0]] == [7, 6, 5]
    finally:
        client.drop_collection("harness")
        client.close()


@pytest.fixture
def second_server(tmp_path):
    reason = harness.missing()
    if reason is not None:
        harness.skip_or_fail(reason)
    server = harness.start(tmp_path)
    yield server
    harness.stop(server, grace=1)  # a no-op once the test has stopped it


def listening(table: str) -> list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int, str]]:
    """(address, port, socket inode) of each listening socket in /proc/net/tcp or tcp6: this
    process's network namespace, the host's."""
    found = []
    for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] != "0A":  # TCP_LISTEN
            continue
        address, port = fields[1].split(":")
        # the address as the kernel's 32-bit words, each in host (little-endian) order
        raw = b"".join(bytes.fromhex(address[i:i + 8])[::-1] for i in range(0, len(address), 8))
        found.append((ipaddress.ip_address(raw), int(port, 16), fields[9]))
    return found


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def test_nothing_of_the_server_listens_on_the_host_but_the_bridge_on_loopback(milvus_process):
    """Milvus 2.3 binds every port on all interfaces: a server in the host's namespace would
    list them here, on 0.0.0.0 or ::; in its own namespace only the bridge is here."""
    server = milvus_process
    pids = [server.wrapper.pid, server.server_pid(), server.inner_bridge_pid(), server.bridge.pid]
    assert None not in pids and all(harness.alive(p) for p in pids)
    ours = set().union(*map(socket_inodes, pids))
    listeners = [(address, port) for table in ("tcp", "tcp6") for address, port, inode
                 in listening(table) if inode in ours]
    assert [(a, p) for a, p in listeners if not a.is_loopback] == []
    bridge_port = int(server.uri.rpartition(":")[2])
    assert listeners == [(ipaddress.ip_address("127.0.0.1"), bridge_port)]
    host = os.readlink("/proc/self/ns/net")
    assert os.readlink(f"/proc/{server.server_pid()}/ns/net") != host
    assert os.readlink(f"/proc/{server.bridge.pid}/ns/net") == host


def test_stop_ends_the_server_its_wrapper_and_the_bridges(second_server, pymilvus):
    pid, inner = second_server.server_pid(), second_server.inner_bridge_pid()
    client = pymilvus.MilvusClient(uri=second_server.uri)  # a connection: socat forks for it
    assert client.list_collections() == []
    groups = [second_server.wrapper.pid, second_server.bridge.pid]
    assert len(harness.group_members(second_server.bridge.pid)) == 2  # listener + connection
    assert harness.alive(pid) and harness.alive(inner) and second_server.wrapper.poll() is None
    harness.stop(second_server)
    client.close()
    assert second_server.wrapper.poll() is not None and second_server.bridge.poll() is not None
    assert not harness.alive(pid) and not harness.alive(inner)
    assert [harness.group_members(g) for g in groups] == [[], []]


def test_stop_kills_both_when_the_wrapper_does_not_stop(second_server):
    pid = second_server.server_pid()
    os.kill(second_server.wrapper.pid, signal.SIGSTOP)  # deaf to the SIGINT that stop() sends
    harness.stop(second_server, grace=1)
    assert second_server.wrapper.returncode == -signal.SIGKILL and not harness.alive(pid)
    assert harness.group_members(second_server.wrapper.pid) == []
