"""Article text from HTML: an entry's own content (a fragment), or a whole page (trafilatura).

Paragraphs come out separated by a blank line, which is what the chunker splits on. The parsers
are quiet: trafilatura and its helpers log warnings for ordinary pages (no date found, a tree too
deep) and Python would print those on stderr for want of a handler, so their loggers are kept
to themselves, and their warnings are not shown.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass

from indexer.dates import parse_date

# Loggers of trafilatura and what it calls; none of their messages is for vraagbaak's users.
_LIBRARY_LOGGERS = ("trafilatura", "htmldate", "courlan", "justext", "readability", "lxml")
for _name in _LIBRARY_LOGGERS:
    _logger = logging.getLogger(_name)
    _logger.addHandler(logging.NullHandler())
    _logger.propagate = False

_BLOCKS = {"p", "div", "section", "article", "blockquote", "li", "ul", "ol", "h1", "h2", "h3",
           "h4", "h5", "h6", "tr", "table", "pre", "figure", "figcaption", "header", "footer",
           "aside", "dd", "dt", "hr"}
_DROP = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "form")
_SPACES = re.compile(r"[ \t\u00a0\u200b\f\v]+")
_PARAGRAPH_BREAKS = re.compile(r"\s*\n\s*\n\s*")
MIN_PAGE_TEXT = 150  # characters: less is a cookie wall, a paywall or a list of links, not news


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None = None
    date: str | None = None  # YYYY-MM-DD when the page states one


class ExtractError(ValueError):
    """No article text could be found; the message says why."""


def fragment_text(html: str) -> str:
    """The text of an HTML fragment (a feed entry's content), paragraph by paragraph."""
    import lxml.etree
    import lxml.html

    if "<" not in html:  # plain text (or text with entities already decoded)
        return _paragraphs(html)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.LxmlError, ValueError):
        return ""
    for bad in list(root.iter(*_DROP)):
        if bad.getparent() is not None:
            bad.drop_tree()
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower()
        if tag == "br":
            element.tail = "\n" + (element.tail or "")
        elif tag in _BLOCKS:
            element.text = "\n\n" + (element.text or "")
            element.tail = "\n\n" + (element.tail or "")
    return _paragraphs(root.text_content())


def plain_text(text: str) -> str:
    """Plain text, its paragraphs (blank-line separated) kept and its spacing made even."""
    return _paragraphs(text)


def page_article(html: bytes, url: str, charset: str | None = None,
                 known_title: str | None = None) -> Extracted:
    """The article on a web page: its main text, title and date, by trafilatura. A first
    paragraph that is the title (the page's, or ``known_title``: the feed's) is left out."""
    import trafilatura

    text = _decode(html, charset)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = trafilatura.bare_extraction(
                text, url=url, with_metadata=True, include_comments=False, include_tables=False,
                include_images=False, include_links=False, deduplicate=False)
    except Exception as exc:  # noqa: BLE001 (a parser of hostile input: any failure, no article)
        raise ExtractError(f"the page could not be parsed ({type(exc).__name__})") from None
    body = getattr(found, "text", None) if found is not None else None
    if not body or not body.strip():
        raise ExtractError("no article text was found on the page")
    # trafilatura's text has one block per line: a blank line between them makes paragraphs
    paragraphs = _paragraphs("\n\n".join(body.splitlines())).split("\n\n")
    title = " ".join((getattr(found, "title", None) or "").split()) or None
    if len(paragraphs) > 1 and paragraphs[0] in {title, " ".join((known_title or "").split())}:
        paragraphs = paragraphs[1:]  # the headline: the article's title, not its text
    article = "\n\n".join(paragraphs)
    if len(article) < MIN_PAGE_TEXT:
        raise ExtractError(f"no article was found on the page (only {len(article)} characters of "
                           "text; a cookie wall, a paywall or an index page?)")
    return Extracted(article, title, _date(getattr(found, "date", None)))


def _decode(html: bytes, charset: str | None) -> str:
    for encoding in (charset, "utf-8"):
        if encoding:
            try:
                return html.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                pass
    return html.decode("cp1252", errors="replace")


def _date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return parse_date(value[:10])
    except ValueError:
        return None


def _paragraphs(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n")]
    joined = "\n".join(lines)
    paragraphs = [p.replace("\n", " ").strip() for p in _PARAGRAPH_BREAKS.split(joined)]
    return "\n\n".join(p for p in paragraphs if p)
