"""A prompt-ready context for chatbots: the hits' passages numbered [1], [2], ... with article,
date and place, packed into a character budget."""

from __future__ import annotations

from search.results import Hit


def pack_context(hits: list[Hit], max_chars: int) -> tuple[str, dict[int, int]]:
    """(context text, {rank: citation number}). Hits are taken in rank order while they fit;
    one that does not fit is left out whole (a cut passage could cut the answer)."""
    blocks: list[str] = []
    citations: dict[int, int] = {}
    used = 0
    for hit in hits:
        number = len(blocks) + 1
        place = f"{hit.date or 'no date'}, characters {hit.start}-{hit.end}"
        source = f"{hit.title} ({hit.doc_id}, {place})" if hit.title else f"{hit.doc_id} ({place})"
        block = f"[{number}] {source}:\n{' '.join(hit.text.split())}"
        cost = len(block) + (2 if blocks else 0)
        if used + cost > max_chars:
            continue
        blocks.append(block)
        citations[hit.rank] = number
        used += cost
    return "\n\n".join(blocks), citations
