"""OpenMP threads wait passively (sleep, not spin) in the process that loads a model, unless the
operator said otherwise; the vectors are the same either way.

libgomp reads its wait policy once, when it loads, so each check runs a fresh process, and reads
the policy back from the runtime itself: OMP_DISPLAY_ENV=VERBOSE makes every libgomp print its
settings to stderr as it loads (GOMP_SPINCOUNT 0 is passive; 300000 is libgomp's default spin)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from indexer.embedders.base import passive_openmp_waits
from tests.conftest import QUESTIONS, ROOT

LIBGOMP_DEFAULT_SPIN = "300000"  # libgomp's spin count when OMP_WAIT_POLICY is unset
CHILD = """
import sys
import numpy as np
from indexer.embedders import load_query_embedder
from indexer.embedders.base import resolve_model
from indexer.settings import Settings
embedder = load_query_embedder(resolve_model(), Settings.from_env().query_backend)
np.save(sys.argv[1], embedder.embed_queries(sys.argv[2:]))
print(type(embedder).__name__)
"""


def test_passive_unless_the_environment_says_how_to_wait():
    environ = {}
    passive_openmp_waits(environ)
    assert environ == {"OMP_WAIT_POLICY": "PASSIVE"}
    for chosen in ({"OMP_WAIT_POLICY": "active"}, {"GOMP_SPINCOUNT": "10000"}):
        environ = dict(chosen)
        passive_openmp_waits(environ)
        assert environ == chosen
    environ = {"OMP_WAIT_POLICY": " "}  # set but empty: libgomp would reject it, and wait by default
    passive_openmp_waits(environ)
    assert environ == {"OMP_WAIT_POLICY": "PASSIVE"}


def embed_in_a_fresh_process(tmp_path: Path, backend: str, questions: list[str],
                             **omp: str) -> tuple[np.ndarray, list[str], str]:
    """The vectors, every libgomp's GOMP_SPINCOUNT as it loaded, and the embedder's class."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    env |= {"VRAAGBAAK_BACKEND": backend, "OMP_DISPLAY_ENV": "VERBOSE",
            "PYTHONPATH": str(ROOT), **omp}
    out = tmp_path / f"{backend}-{len(omp)}.npy"
    done = subprocess.run([sys.executable, "-c", CHILD, str(out), *questions], env=env,
                          capture_output=True, text=True, check=True, timeout=300)
    spins = re.findall(r"GOMP_SPINCOUNT = '(\d+)'", done.stderr)
    return np.load(out), spins, done.stdout.strip()


def sample_questions() -> list[str]:
    return [json.loads(line)["text"] for line in QUESTIONS.open()][:8]


@pytest.mark.model
@pytest.mark.parametrize("backend, embedder", [("engine", "EngineEmbedder"),
                                               ("torch", "SentenceTransformerEmbedder")])
def test_the_model_loads_with_passive_waits_and_embeds_the_same(tmp_path, backend, embedder):
    questions = sample_questions()
    passive, spins, loaded = embed_in_a_fresh_process(tmp_path, backend, questions)
    assert loaded == embedder
    assert spins and set(spins) == {"0"}  # each libgomp of the process, the model's included
    spinning, spins, _ = embed_in_a_fresh_process(tmp_path, backend, questions,
                                                  GOMP_SPINCOUNT=LIBGOMP_DEFAULT_SPIN)
    assert set(spins) == {LIBGOMP_DEFAULT_SPIN}  # the operator's choice is kept
    assert passive.shape == (len(questions), 384)
    np.testing.assert_allclose(passive, spinning, atol=1e-6, rtol=0)


@pytest.mark.model
def test_an_operators_wait_policy_reaches_the_engine(tmp_path):
    _, spins, _ = embed_in_a_fresh_process(tmp_path, "engine", ["hallo"], OMP_WAIT_POLICY="ACTIVE")
    assert spins and all(int(s) > int(LIBGOMP_DEFAULT_SPIN) for s in spins)
