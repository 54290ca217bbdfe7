"""The Milvus standalone server the tests use (tests/milvus_server.py): it starts, a real client
works against it, and it is stopped by pid, also when its wrapper does not stop it."""

from __future__ import annotations

import os
import signal

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
    if harness.executable() is None:
        harness.skip_or_fail(harness.missing())
    server = harness.start(tmp_path)
    yield server
    harness.stop(server, grace=1)  # a no-op once the test has stopped it


def test_stop_ends_the_server_and_its_wrapper(second_server):
    pid = second_server.server_pid()
    assert harness.alive(pid) and second_server.wrapper.poll() is None
    harness.stop(second_server)
    assert second_server.wrapper.poll() is not None and not harness.alive(pid)


def test_stop_kills_both_when_the_wrapper_does_not_stop(second_server):
    pid = second_server.server_pid()
    os.kill(second_server.wrapper.pid, signal.SIGSTOP)  # deaf to the SIGINT that stop() sends
    harness.stop(second_server, grace=1)
    assert second_server.wrapper.returncode == -signal.SIGKILL and not harness.alive(pid)
