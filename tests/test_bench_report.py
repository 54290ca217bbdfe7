"""bench.report --only: one part's section made again, the rest of the document kept."""

from __future__ import annotations

from bench.report import replace_sections

RESULT = {"command": "python -m bench.indexing", "mode": "alone", "date": "2026-12-03 07:00 UTC",
          "machine": {"cpu": "Test CPU", "cores": 2}, "flores": True,
          "tables": [{"title": "New numbers", "columns": ["a", "b"], "rows": [["1", "2"]],
                      "note": ""}]}

DOCUMENT = """# Benchmarks

## hardware

old hardware text

## indexing

old indexing text

## Sections of the archived notebook

- archive
"""


def test_only_the_named_section_is_replaced():
    out = replace_sections(DOCUMENT, ["indexing"], {"indexing": RESULT})
    assert "old indexing text" not in out and "**New numbers**" in out and "| 1 | 2 |" in out
    assert "old hardware text" in out and out.index("## hardware") < out.index("## indexing")
    assert out.index("**New numbers**") < out.index("## Sections of the archived notebook")


def test_a_part_without_a_section_goes_before_the_archive():
    out = replace_sections(DOCUMENT, ["threads"], {"threads": RESULT})
    assert out.index("## indexing") < out.index("## threads") < out.index("## Sections of")


def test_a_part_without_a_result_is_a_clear_error():
    import pytest

    with pytest.raises(SystemExit, match="no result for 'probing'.*python -m bench.probing"):
        replace_sections(DOCUMENT, ["probing"], {})
