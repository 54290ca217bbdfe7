"""Loading articles from `.txt` and `.jsonl` files.

Loading never stops at the first bad file: every problem is collected with its file and line,
and every good article of the same run is still returned.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from indexer.dates import parse_date
from indexer.records import Document

SUPPORTED_SUFFIXES = (".txt", ".jsonl")
MAX_ID_LENGTH = 200
MAX_NUL_LINES_SHOWN = 10  # per JSONL file; more are counted in one problem

# The sample format: the file opens with " date YYYY-MM" and the text follows on the same line.
# A first word "date" followed by a digit opens a header; a malformed date there is reported,
# not indexed as text.
_TXT_HEADER = re.compile(r"\A[ \t]*date[ \t]+(\d[\d/.-]*)(?=\s|\Z)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 (but \t \n \r), DEL, C1
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # unpaired: from "\\udXXX" in JSON, or a bad file name


@dataclass(frozen=True)
class Problem:
    """Why a file, or one line of it, was not indexed."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)  # files in a folder that are not articles


def load_articles(paths: Iterable[Path]) -> LoadResult:
    """Load every article under ``paths`` (files, or folders searched recursively)."""
    result = LoadResult()
    first_seen: dict[str, str] = {}
    files_seen: set[tuple[int, int]] = set()
    for path in paths:
        for item in _expand(Path(path), result):
            if _seen_before(item, files_seen):
                continue  # given twice (or a folder and a file in it, or a link): load it once
            for doc_or_problem in _load_file(item):
                if isinstance(doc_or_problem, Problem):
                    result.problems.append(doc_or_problem)
                elif doc_or_problem.doc_id in first_seen:
                    result.problems.append(Problem(
                        doc_or_problem.origin,  # already "path" or "path:line"
                        f"duplicate article id {doc_or_problem.doc_id!r} (already loaded from "
                        f"{first_seen[doc_or_problem.doc_id]}); this one is skipped",
                    ))
                else:
                    first_seen[doc_or_problem.doc_id] = doc_or_problem.origin
                    result.documents.append(doc_or_problem)
    return result


def _seen_before(path: Path, seen: set[tuple[int, int]]) -> bool:
    """Whether this very file (same device and inode, by any name) was loaded already."""
    try:
        st = path.stat()
    except OSError:
        return False  # reading it will report why
    key = (st.st_dev, st.st_ino)
    if key in seen:
        return True
    seen.add(key)
    return False


def _expand(path: Path, result: LoadResult) -> Iterator[Path]:
    if not path.exists():
        result.problems.append(Problem(str(path), "no such file or directory"))
        return
    if not path.is_file() and not path.is_dir():
        result.problems.append(Problem(str(path), f"is {_kind(path)}, not a file or folder of "
                                       "articles; give .txt or .jsonl files, or folders of them"))
        return
    if path.is_file():
        if path.suffix.lower() in SUPPORTED_SUFFIXES:
            yield path
        else:
            result.problems.append(Problem(
                str(path), f"unsupported file type {path.suffix or '(none)'!r}; "
                "articles must be .txt (sample format) or .jsonl (one article per line)"))
        return
    found = False
    for item in sorted(path.rglob("*")):
        if any(part.startswith(".") for part in item.relative_to(path).parts) or not item.is_file():
            continue
        if item.suffix.lower() in SUPPORTED_SUFFIXES:
            found = True
            yield item
        else:
            result.ignored.append(item)
    if not found:
        result.problems.append(Problem(str(path), "folder holds no .txt or .jsonl files"))


def _kind(path: Path) -> str:
    mode = path.stat().st_mode
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"


def _load_file(path: Path) -> Iterator[Document | Problem]:
    if _SURROGATE.search(str(path)):
        shown = str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        yield Problem(shown, "the file name is not valid UTF-8; rename the file")
        return
    try:
        raw = path.read_bytes()
    except OSError as exc:
        yield Problem(str(path), f"cannot be read ({exc.strerror or exc})")
        return
    if path.suffix.lower() == ".jsonl":  # judged line by line: one bad line is one bad article
        yield from _load_jsonl(path, raw)
    elif b"\x00" in raw[:8192]:
        yield Problem(str(path), "looks like a binary file (it holds NUL bytes), not text")
    else:
        yield _load_txt(path, raw)


def _decode(raw: bytes, path: Path, line_offset: int = 0) -> str | Problem:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = line_offset + raw.count(b"\n", 0, exc.start) + 1
        return Problem(str(path), f"is not UTF-8 (byte 0x{raw[exc.start]:02x} cannot be decoded); "
                       "convert it first, e.g. `iconv -f latin1 -t utf-8`", line)


def _clean(text: str) -> str:
    text = _SURROGATE.sub("\ufffd", text)
    return _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))


def _has_control(value: str) -> bool:
    """Control characters (\t \n \r included) or unpaired surrogates: not for an id."""
    return bool(_CONTROL.search(value) or _SURROGATE.search(value)
                or any(c in value for c in "\t\n\r"))


def _load_txt(path: Path, raw: bytes) -> Document | Problem:
    text = _decode(raw, path)
    if isinstance(text, Problem):
        return text
    text = _clean(text)
    article_date = None
    header = _TXT_HEADER.match(text)
    if header:
        try:
            article_date = parse_date(header.group(1))
        except ValueError as exc:
            return Problem(str(path), f"the date line says {exc}", 1)
        text = text[header.end():]
    text = text.strip()
    if not text:
        return Problem(str(path), "is empty (no article text)")
    if _has_control(path.stem):
        return Problem(str(path), f"the file name holds control characters ({path.stem[:40]!r}); it "
                       "is the article's id: rename the file")
    return Document(doc_id=path.stem, text=text, date=article_date, origin=str(path))


def _load_jsonl(path: Path, raw: bytes) -> Iterator[Document | Problem]:
    """Each line is an article of its own. Lines holding NUL bytes are binary data: the first
    few are reported by line, the rest counted, and a file in which they hold no article at all
    is one problem ("a binary file"), not thousands of line problems."""
    lines = 0
    nul_lines: list[int] = []
    held: list[Problem] | None = []  # problems before the first article, None after it
    raw = raw.removeprefix(b"\xef\xbb\xbf")  # a BOM opens the file, not its first line
    for number, line_bytes in enumerate(raw.split(b"\n"), start=1):
        if not line_bytes.strip():
            continue
        lines += 1
        if b"\x00" in line_bytes:
            nul_lines.append(number)
            if len(nul_lines) > MAX_NUL_LINES_SHOWN:
                continue
        item = _jsonl_line(path, line_bytes, number)
        if held is not None and isinstance(item, Problem):
            held.append(item)
            continue
        if held:  # the first article: the file is text, so what was held is reported as usual
            yield from held
        held = None
        yield item
    if not lines:
        yield Problem(str(path), "is empty (no articles)")
    elif held is not None and nul_lines:
        yield Problem(str(path), f"looks like a binary file ({len(nul_lines)} of {lines} lines hold "
                      "NUL bytes), not JSONL text; if it is UTF-16 text, convert it to UTF-8 first")
        return
    yield from held or ()
    if len(nul_lines) > MAX_NUL_LINES_SHOWN:
        yield Problem(str(path), f"{len(nul_lines) - MAX_NUL_LINES_SHOWN} more lines hold NUL bytes "
                      f"(the first at line {nul_lines[MAX_NUL_LINES_SHOWN]}); they were left out too")


def _jsonl_line(path: Path, line_bytes: bytes, number: int) -> Document | Problem:
    if b"\x00" in line_bytes:
        return Problem(str(path), "holds NUL bytes (binary data), not a line of JSON text", number)
    line = _decode(line_bytes, path, number - 1)
    if isinstance(line, Problem):
        return line
    try:
        return _document_from_record(json.loads(line), path, number)
    except json.JSONDecodeError as exc:
        return Problem(str(path), f"not valid JSON ({exc.msg} at column {exc.colno})", number)
    except RecursionError:
        return Problem(str(path), "not valid JSON (nested too deeply)", number)
    except ValueError as exc:
        return Problem(str(path), str(exc), number)


def _optional_str(record: dict, key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"field {key!r} must be a string, not {type(value).__name__}")
    return _clean(value).strip() or None


def _document_from_record(record: object, path: Path, line: int) -> Document:
    if not isinstance(record, dict):
        raise ValueError(f"each line must be a JSON object, not {type(record).__name__}")
    doc_id = record.get("id")
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise ValueError("missing field 'id' (a non-empty string)")
    if len(doc_id) > MAX_ID_LENGTH or _has_control(doc_id):
        raise ValueError(f"id {doc_id[:40]!r} must be at most {MAX_ID_LENGTH} characters "
                         "without control characters")
    text = record.get("text")
    text = _clean(text).strip() if isinstance(text, str) else ""  # control characters only: empty
    if not text:
        raise ValueError(f"article {doc_id!r}: missing field 'text' (a non-empty string)")
    raw_date = _optional_str(record, "date")
    try:
        article_date = parse_date(raw_date) if raw_date else None
    except ValueError as exc:
        raise ValueError(f"article {doc_id!r}: field 'date': {exc}") from None
    return Document(
        doc_id=doc_id.strip(), text=text, title=_optional_str(record, "title"),
        date=article_date, url=_optional_str(record, "url"), source=_optional_str(record, "source"),
        origin=f"{path}:{line}",
    )


def document_from_record(record: object, origin: str = "") -> Document:
    """One article from a JSONL-style record, checked and cleaned as the loader does; raises
    ValueError with the reason. For articles that come from elsewhere than a file (the web API)."""
    doc = _document_from_record(record, Path(""), 0)
    return Document(doc.doc_id, doc.text, doc.title, doc.date, doc.url, doc.source, origin)
