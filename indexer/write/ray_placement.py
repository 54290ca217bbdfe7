"""Where a `vraagbaak index --ray` run's actors go, and what each asks Ray for: CPUs, or a GPU
each where the run asks for one (``--device cuda``) or the cluster has them (``--device auto``).

A GPU actor runs the registry's CUDA entry (fp16 for the bundled model, fp32 for others), the
one `vraagbaak index --device cuda` picks on one machine, at that entry's batch size; the actors
that split the articles stay on CPUs (they load only the tokenizer). The driver needs no GPU:
it only learns from Ray how many the cluster has.
Why: docs/decisions/0067-gpu-actors-on-ray.md
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.embedders import backend, document_backend_for
from indexer.embedders.base import ModelSpec
from indexer.errors import ClusterError
from indexer.settings import RaySettings


@dataclass(frozen=True)
class Placement:
    """One stage's actors: how many (Ray's strategy), what each asks for, which backend they
    load and the batch they embed."""

    pool: object  # ray.data.ActorPoolStrategy
    resources: dict  # map_batches' num_cpus, memory and, on GPUs, num_gpus
    backend: str
    batch_size: int

    @property
    def gpus(self) -> bool:
        return bool(self.resources.get("num_gpus"))

    def describe(self) -> str:
        low, high = self.pool.min_size, self.pool.max_size
        count = f"{low} actors" if low == high else f"{low} to {high} actors"
        if self.gpus:
            return f"{count}, a GPU each"
        return f"{count}, {self.resources['num_cpus']} thread{'s' if self.resources['num_cpus'] > 1 else ''} each"


def cpu_placement(ray, settings: RaySettings, backend_name: str, batch_size: int) -> Placement:
    """Actors on CPUs, ``settings.threads`` each: the splitting actors, and embedding where no
    GPU is asked for or found."""
    resources = {"num_cpus": settings.threads, "memory": settings.actor_memory_mb << 20}
    return Placement(actor_pool(ray, settings, gpus=False), resources, backend_name, batch_size)


def embedding_placement(ray, settings: RaySettings, spec: ModelSpec, backend_name: str,
                        batch_size: int, asked_batch: int | None) -> Placement:
    """The embedding actors: on GPUs where ``settings.device`` and the cluster say so (with the
    CUDA entry's batch unless ``asked_batch``), else as ``cpu_placement``."""
    if not on_gpus(ray, settings):
        return cpu_placement(ray, settings, backend_name, batch_size)
    name = document_backend_for(spec, "cuda", cuda_available=lambda: True)
    size = asked_batch or int(dict(backend(name).options).get("batch_size", batch_size))
    resources = {"num_cpus": settings.threads, "num_gpus": 1,
                 "memory": settings.actor_memory_mb << 20}
    return Placement(actor_pool(ray, settings, gpus=True), resources, name, size)


def on_gpus(ray, settings: RaySettings) -> bool:
    """Whether the embedding actors ask for GPUs: ``cuda`` always (an error where the cluster
    has none), ``auto`` where it has one at least, ``cpu`` never."""
    if settings.device == "cpu":
        return False
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if settings.device == "cuda" and gpus < 1:
        raise ClusterError("--device cuda with --ray, but the Ray cluster has no GPUs",
                           hint="start the GPU nodes with their GPUs (`ray start --num-gpus N`, or "
                                "KubeRay's GPU worker group), or leave out --device to embed on "
                                "the cluster's CPUs")
    return gpus >= 1


def actor_pool(ray, settings: RaySettings, gpus: bool = False):
    """A fixed pool of the actors asked for (default: as many as the cluster's CPUs, memory and,
    on GPUs, GPUs hold); where fewer fit now, it starts with those and grows as the cluster does."""
    resources = ray.cluster_resources()
    fit = min(int(resources.get("CPU", 1) // settings.threads),
              int(resources.get("memory", float("inf")) // (settings.actor_memory_mb << 20)))
    if gpus:
        fit = min(fit, int(resources.get("GPU", 0)))
    fit = max(1, fit)
    wanted = settings.actors or fit
    if wanted <= fit:
        return ray.data.ActorPoolStrategy(size=wanted)
    return ray.data.ActorPoolStrategy(min_size=fit, max_size=wanted)
