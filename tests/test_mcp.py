"""The MCP server, tested with the SDK's own client: streamable HTTP at /mcp of a real server on
loopback (fake model), and stdio through `vraagbaak mcp` (real model)."""

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest

from cli.server.app import create_app
from cli.server.settings import ServerSettings
from tests.server import running

KEY = "mcp-key"


@pytest.fixture
def app_for(fake_searcher, tmp_path):
    def make(api_key=None):
        return create_app(ServerSettings(index_dir=tmp_path / "idx", api_key=api_key), fake_searcher)

    return make


async def _session(server, calls, headers=None):
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    if headers is None:
        async with Client(server) as client:
            return [await call(client) for call in calls]
    async with httpx2.AsyncClient(headers=headers) as http:
        async with Client(streamable_http_client(server, http_client=http)) as client:
            return [await call(client) for call in calls]


def _list_tools(client):
    return client.list_tools()


def _search(arguments):
    return lambda client: client.call_tool("search_news", arguments)


def test_streamable_http_tool(app_for):
    with running(app_for()) as url:
        tools, result, bad, bad_k = asyncio.run(_session(url + "/mcp", [
            _list_tools, _search({"question": "Poetin Navalny", "k": 2}),
            _search({"question": "   "}), _search({"question": "Poetin", "k": 0})]))
    assert [t.name for t in tools.tools] == ["search_news"]
    schema = tools.tools[0].input_schema
    # the same options as POST /search
    assert set(schema["properties"]) == {"question", "k", "mode", "since", "until", "question_dates",
                                         "group", "per_article", "context", "max_chars"}
    assert result.is_error is False
    data = result.structured_content
    assert len(data["results"]) == 2 and data["context"].startswith("[1] ")
    assert data["results"][0]["citation"] == 1
    assert bad.is_error is True and "the question is empty" in bad.content[0].text
    assert bad_k.is_error is True
    assert bad_k.content[0].text.endswith("k: Input should be greater than or equal to 1")


def test_mcp_says_why_it_is_not_ready(tmp_path):
    with running(create_app(ServerSettings(index_dir=tmp_path / "none"))) as url:
        [result] = asyncio.run(_session(url + "/mcp", [_search({"question": "Poetin"})]))
    assert result.is_error is True
    assert "not ready: there is no index at" in result.content[0].text


def test_mcp_needs_the_api_key_when_one_is_set(app_for):
    with running(app_for(api_key=KEY)) as url:
        refused = httpx.post(url + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
        [result] = asyncio.run(_session(url + "/mcp", [_search({"question": "Biden", "k": 1})],
                                        headers={"Authorization": f"Bearer {KEY}"}))
    assert result.is_error is False and len(result.structured_content["results"]) == 1


@pytest.mark.model
def test_stdio_server_with_the_real_model(real_index):
    from mcp import StdioServerParameters

    exe = str(Path(sys.executable).parent / "vraagbaak")
    params = StdioServerParameters(command=exe, args=["mcp", "--index", str(real_index)],
                                   env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    [result] = asyncio.run(_session(params, [_search({"question": "Wat zei Poetin over Navalny?",
                                                      "k": 2})]))
    texts = [r["text"] for r in result.structured_content["results"]]
    assert any("opsluiting" in t for t in texts)
