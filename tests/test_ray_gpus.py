"""`vraagbaak index --ray` with GPUs: each embedding actor asks Ray for a GPU and runs the CUDA
backend; the splitting actors stay on CPUs; the manifest records what the actors ran. A real Ray
on this CPU machine is told it has one GPU (`num_gpus=1`, as Ray allows), so the scheduling is
Ray's own; the model in the actors is the fake one (torch here sees no CUDA), and the real
actor's answer to a GPU without CUDA is tested as users would meet it. The GPU's own rate and
answers: `python -m bench.gpu` on a GPU machine (docs/scale-out.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.errors import ClusterError, ModelError
from indexer.index.directory import IndexDirectory
from indexer.settings import RaySettings
from indexer.write.chunking import ParagraphChunker
from indexer.write.embedding import LocalEmbedding
from indexer.write.pipeline import load_for_index, update_index
from tests.conftest import SAMPLE_DIR
from tests.fakes import FakeEmbedder
from tests.test_ray import assert_same_index, local_ray


@pytest.fixture(scope="module")
def gpu_cluster():
    """A local Ray of 2 CPUs that believes it has one GPU."""
    with local_ray(gpus=1) as ray:
        yield ray


def _build(root: Path, embedding, embedder=None):
    embedder = embedder or FakeEmbedder()
    return update_index(IndexDirectory(root), embedder, ParagraphChunker(embedder),
                        load_for_index([SAMPLE_DIR]), embedding=embedding)


def test_gpu_actors_get_a_gpu_each_and_the_manifest_names_their_backend(gpu_cluster, tmp_path):
    from indexer.write.ray_embedding import RayEmbedding
    from tests.ray_actors import RecordsItsPlace

    record = tmp_path / "places.jsonl"
    seen = []
    _build(tmp_path / "here", LocalEmbedding())
    _build(tmp_path / "ray", RayEmbedding(RaySettings(device="cuda"), actor=RecordsItsPlace,
                                          actor_options=(("record", str(record)),),
                                          status=seen.append))
    places = [json.loads(line) for line in record.read_text().splitlines()]
    # one GPU in the cluster: one embedding actor (the splitting actors are not this class)
    assert places == [{"gpus": ["0"], "backend": "sentence-transformers-cuda", "batch_size": 64}]
    assert "splitting 5 articles on Ray: 2 actors, 1 thread each" in seen  # CPUs for the split
    assert "embedding on Ray: 1 actors, a GPU each" in seen
    manifest = IndexDirectory(tmp_path / "ray").manifest_if_any()
    assert manifest.document_backends == ["sentence-transformers-cuda"]
    assert IndexDirectory(tmp_path / "here").manifest_if_any().document_backends == ["sentence-transformers"]
    assert_same_index(tmp_path / "here", tmp_path / "ray")  # the fake model: the same vectors


@pytest.mark.parametrize("device, gpus, backend, batch", [
    ("auto", 1, "sentence-transformers-cuda-fp16", 64),  # the bundled model: fp16 on a GPU
    ("cuda", 1, "sentence-transformers-cuda-fp16", 64),
    ("cpu", 0, "sentence-transformers", 16),  # --device cpu on a GPU cluster: CPU actors
])
def test_where_the_embedding_actors_go(gpu_cluster, device, gpus, backend, batch):
    from indexer.embedders.base import resolve_model
    from indexer.write.ray_placement import embedding_placement

    place = embedding_placement(gpu_cluster, RaySettings(device=device), resolve_model(),
                                "sentence-transformers", 16, None)
    assert (place.resources.get("num_gpus", 0), place.backend, place.batch_size) == (gpus, backend, batch)
    assert place.pool.max_size == (1 if gpus else 2)  # one GPU, two CPUs
    asked = embedding_placement(gpu_cluster, RaySettings(device=device), resolve_model(),
                                "sentence-transformers", 8, 8)  # as RayEmbedding passes --batch-size 8
    assert asked.batch_size == 8  # --batch-size wins over the CUDA entry's 64


@pytest.mark.model
def test_a_gpu_actor_whose_torch_sees_no_cuda_says_so(gpu_cluster, tmp_path, real_embedder):
    from indexer.write.ray_embedding import RayEmbedding

    with pytest.raises(ModelError) as raised:  # the real actor and model: this torch has no CUDA
        _build(tmp_path / "idx", RayEmbedding(RaySettings(device="cuda", actors=1)), real_embedder)
    assert "Ray gave this actor GPU 0, but torch sees no CUDA there (install a CUDA build of " \
           "torch on the GPU nodes)" in str(raised.value)
    assert "install a CUDA build of torch" in raised.value.hint  # the actor's hint (keeps_hint)
    assert IndexDirectory(tmp_path / "idx").manifest_if_any() is None  # nothing published


class _Cluster:
    """What `on_gpus` asks of Ray: the cluster's resources."""

    def __init__(self, gpus: int) -> None:
        self.resources = {"CPU": 8.0, **({"GPU": float(gpus)} if gpus else {})}

    def cluster_resources(self) -> dict:
        return self.resources


@pytest.mark.parametrize("device, gpus, expected", [
    ("cpu", 4, False), ("auto", 0, False), ("auto", 2, True), ("cuda", 2, True)])
def test_whether_the_actors_ask_for_gpus(device, gpus, expected):
    from indexer.write.ray_placement import on_gpus

    assert on_gpus(_Cluster(gpus), RaySettings(device=device)) is expected


def test_cuda_on_a_cluster_without_gpus_is_refused():
    from indexer.write.ray_placement import on_gpus

    with pytest.raises(ClusterError, match="--device cuda with --ray, but the Ray cluster has no GPUs"):
        on_gpus(_Cluster(0), RaySettings(device="cuda"))


def test_a_ray_setting_device_that_is_not_one_is_refused():
    with pytest.raises(ClusterError, match="device must be one of cpu, cuda, auto, not 'gpu'"):
        RaySettings(device="gpu")
