"""The installed `vraagbaak` command in real processes: real model, offline, as a user runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_DIR

pytestmark = pytest.mark.model


def vraagbaak(*args, check=True):
    exe = Path(sys.executable).parent / "vraagbaak"
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, env=env,
                            timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_index_then_search_in_fresh_processes(tmp_path):
    index = tmp_path / "idx"
    indexed = vraagbaak("index", SAMPLE_DIR, "--index", index)
    assert ": 5 added, 0 updated, 0 unchanged, 0 removed" in indexed.stdout
    assert "The index holds 5 articles" in indexed.stdout
    found = vraagbaak("search", "Wat zei Poetin over Navalny?", "--index", index, "-k", "2", "--json")
    results = json.loads(found.stdout)["results"]
    assert any("opsluiting" in r["text"] and r["doc_id"] == "001_2bed4d3526be678e" for r in results)
    poetin = [q for r in results for q in r["quotes"] if q["asked"]]  # who said what, in --json
    assert poetin and {q["speaker"] for q in poetin} <= {"Vladimir Poetin", "Poetin"}
    text = next(r for r in results if r["doc_id"] == "001_2bed4d3526be678e")
    assert any("opsluiting" in text["text"][q["start"] - text["start"]:q["end"] - text["start"]]
               for q in text["quotes"])
    readable = vraagbaak("search", "how long did the Geneva meeting last", "--index", index, "-k", "2")
    assert "3 uur en 21 minuten" in " ".join(readable.stdout.split())  # lines are wrapped
    assert "Traceback" not in readable.stderr


def test_a_missing_index_fails_cleanly(tmp_path):
    result = vraagbaak("search", "vraag", "--index", tmp_path / "none", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: there is no index at {tmp_path / 'none'}")
