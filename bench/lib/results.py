"""A part's results: printed as tables, and written to bench/out/<part>.json for bench.report.

Every file holds: part (the module's file name), mode (the suite's, or "alone"), command, date,
machine facts, the part's numbers as plain JSON, and its tables (title, columns, rows of
formatted cells) from which docs/benchmarks.md is made.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from bench.lib import corpora, machine

ROOT = Path(__file__).resolve().parents[2]
OUT_ENV, MODE_ENV = "BENCH_OUT", "BENCH_MODE"  # the suite sets the mode for its parts


def out_dir() -> Path:
    return Path(os.environ.get(OUT_ENV) or ROOT / "bench" / "out")


def part_name() -> str:
    """The running part: its module's file name (python -m bench.scale -> "scale")."""
    return Path(sys.argv[0]).stem


def command() -> str:
    return " ".join(["python -m", f"bench.{part_name()}", *sys.argv[1:]])


def table(title: str, columns: list[str], rows: list[list], note: str = "") -> dict:
    return {"title": title, "columns": columns, "rows": [[str(c) for c in row] for row in rows],
            "note": note}


def as_text(t: dict) -> str:
    """A table for the terminal: columns padded to their widest cell."""
    lines = [t["columns"], *t["rows"]]
    widths = [max(len(line[i]) for line in lines if i < len(line)) for i in range(len(t["columns"]))]
    body = ["  ".join(cell.rjust(w) if j else cell.ljust(w) for j, (cell, w) in enumerate(zip(line, widths)))
            for line in lines]
    return "\n".join([t["title"], *body] + ([t["note"]] if t["note"] else []))


def _document(numbers: dict, tables: list[dict], skipped: str = "", part: str = "",
              cmd: str = "", mode: str = "") -> dict:
    return {"part": part or part_name(), "mode": mode or os.environ.get(MODE_ENV, "alone"),
            "command": cmd or command(),
            "date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": machine.facts(),
            "flores": str(corpora.dev_dir()) if (corpora.dev_dir() / "corpus.jsonl").is_file() else None,
            "skipped": skipped, "numbers": numbers, "tables": tables}


def _plain(value):
    """numpy scalars and arrays as Python numbers and lists."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def _write(document: dict) -> Path:
    path = out_dir() / f"{document['part']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, default=_plain) + "\n")
    return path


def publish(numbers: dict, tables: list[dict]) -> Path:
    """Print the tables and write the part's results."""
    for t in tables:
        print("\n" + as_text(t), flush=True)
    path = _write(_document(numbers, tables))
    print(f"\nwritten: {path}")
    return path


def skip(reason: str, part: str = "", cmd: str = "", mode: str = "") -> Path:
    """A part that cannot run here (missing data or virtualenv) says so, in its results too."""
    print(f"skipped: {reason}")
    return _write(_document({}, [], reason, part, cmd, mode))


def write_suite(summary: dict) -> Path:
    """The suite's own record (bench/out/suite.json): mode, date, machine, parts and seconds."""
    return _write({"part": "suite", "date": time.strftime("%Y-%m-%d %H:%M %Z"),
                   "machine": machine.facts(), **summary})


def load_all(folder: Path | None = None) -> dict[str, dict]:
    """Every part's latest results in ``folder`` (bench/out), by part name."""
    folder = folder or out_dir()
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
