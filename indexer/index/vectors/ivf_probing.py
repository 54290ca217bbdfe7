"""Which IVF lists a question searches (adaptive probing), and how a build tunes that.

A question about something the archive covers scores far higher against one or two centroids
than against the rest; a question the archive has no answer to scores about alike against many,
and its exact top 10 is spread over many lists. One fixed number of lists is too many for the
first kind and too few for the second: at 1M vectors a fixed 90 of 1,024 lists gave recall@10
0.999 on answerable questions and 0.950 on unanswerable ones (docs/benchmarks.md). So each
question probes the lists whose centroid scores within ``delta`` of its best one, at least
``fewest`` and at most ``most`` of them.

Tuning needs no IVF search: a question's recall at n lists is the share of its exact top 10
whose lists are among its n best-scoring centroids. One exact search and one centroid ranking
per tuning question score every (fewest, delta) pair at once; a real search then measures the
chosen pair's recall.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from indexer.errors import IndexFormatError

# Delta is a difference of cosines; these are the values a build tries, finest first.
_DELTAS = np.round(np.arange(0.0, 1.0 + 1e-9, 0.0025), 4)


@dataclass(frozen=True)
class Probing:
    """Probe the lists whose centroid scores within ``delta`` of the best one; at least
    ``fewest``, at most ``most``. A fixed nprobe p is Probing(0.0, p, p)."""

    delta: float
    fewest: int
    most: int

    @classmethod
    def fixed(cls, nprobe: int) -> Probing:
        return cls(0.0, nprobe, nprobe)

    def counts(self, centroid_scores: np.ndarray) -> np.ndarray:
        """Lists to probe per question, from its centroid scores (best first, at least ``most``
        columns)."""
        within = np.sum(centroid_scores >= centroid_scores[:, :1] - self.delta, axis=1)
        return np.clip(within, self.fewest, self.most)

    def describe(self) -> dict:
        return asdict(self)

    @classmethod
    def from_description(cls, described: object, nlist: int, source: str) -> Probing:
        """The probing a manifest recorded for an index of ``nlist`` lists; a clear error if
        it is not one (``source`` names the file for the message)."""
        try:
            probing = cls(float(described["delta"]), int(described["fewest"]),
                          int(described["most"]))
        except (TypeError, KeyError, ValueError) as exc:
            raise _damaged(source, f"its IVF probing {described!r} is incomplete") from exc
        if not (probing.delta >= 0 and 1 <= probing.fewest <= probing.most <= nlist):
            raise _damaged(source, f"its IVF probing {described!r} does not fit {nlist} lists")
        return probing


# Why: docs/decisions/0018-filtered-probing-share-0-6.md
def filtered_counts(counts: np.ndarray, nlist: int, share: float) -> np.ndarray:
    """Lists to probe when a filter allows ``share`` of the vectors: counts / share**0.6.

    The filter's best vectors lie deeper than the unfiltered ones, so more lists are needed, but
    not 1/share times as many (the first rule: an exact scan at 10%, 7x slower at 1M for nothing).
    Measured: clustered vectors (tests/test_vector_index.py, 20k, 128 lists, nprobe 16) need 4x
    the lists at 10% and 8x at 1%; share**0.6 gives 4x and 16x. (1/sqrt(share), the rule before,
    gives 3.2x; with their nprobe at 12, a 4% filter fell to recall 0.9795.) At 1M uniform-like
    vectors (1024 lists, nprobe 128) 10% needs no more lists at all (0.999): the rule errs to
    safety."""
    scaled = np.ceil(np.asarray(counts) / max(share, 1e-9) ** 0.6).astype(np.int64)
    return np.minimum(nlist, scaled)


@dataclass(frozen=True)
class TuningSet:
    """Tuning questions: their centroid scores (questions, nlist), best first; for each exact
    neighbour (questions, 10), the place of its list in that order; and the share of vectors
    the set's filter allows (1.0: no filter)."""

    centroid_scores: np.ndarray
    ranks: np.ndarray
    share: float = 1.0


# Why: docs/decisions/0016-adaptive-probing.md, 0017-probing-tuned-to-recall-0-99.md
def tune_probing(sets: list[TuningSet], nlist: int, target: float) -> Probing:
    """The cheapest probing (fewest lists on average, without filters) whose recall@10 reaches
    ``target`` on every set, filtered sets probing ``filtered_counts``.

    At most half the lists are probed when that reaches the target (a question that needs more
    is better answered with a little less recall than at the price of an exact scan); else all
    of them."""
    within = [np.stack([np.searchsorted(row[0] - row, _DELTAS, side="right")
                        for row in s.centroid_scores]) for s in sets]  # (questions, deltas)
    for most in (max(1, nlist // 2), nlist):
        best: tuple[float, Probing] | None = None
        for fewest in _ladder(most):
            counts = [np.clip(w, fewest, most) for w in within]
            probed = [filtered_counts(c, nlist, s.share) for c, s in zip(counts, sets)]
            recalls = [np.mean(s.ranks[:, :, None] < p[:, None, :], axis=(0, 1))
                       for s, p in zip(sets, probed)]  # per delta
            good = np.flatnonzero(np.all([r >= target for r in recalls], axis=0))
            if len(good) == 0:
                continue
            # Counts before any filter: what these questions cost without one.
            cost = float(np.mean(np.concatenate([c[:, good[0]] for c in counts])))
            if best is None or cost < best[0]:
                best = cost, Probing(float(_DELTAS[good[0]]), fewest, most)
        if best is not None:
            return best[1]
    return Probing.fixed(nlist)  # not reached: all lists find every neighbour


def neighbour_ranks(centroid_order: np.ndarray, neighbour_lists: np.ndarray) -> np.ndarray:
    """For each question, the place of each neighbour's list in the question's centroid order
    (``centroid_order``: (questions, nlist) list numbers, best first)."""
    place = np.empty_like(centroid_order)
    rows = np.arange(len(centroid_order))[:, None]
    place[rows, centroid_order] = np.arange(centroid_order.shape[1])[None, :]
    return np.take_along_axis(place, neighbour_lists, axis=1)


def _ladder(most: int) -> list[int]:
    """Counts to try, each about sqrt(2) times the last: 1, 2, 3, 4, 6, 8, 11, 16, ..., most."""
    steps, p = [], 1.0
    while round(p) < most:
        if not steps or round(p) > steps[-1]:
            steps.append(round(p))
        p *= math.sqrt(2)
    return steps + [most]


def _damaged(source: str, what: str) -> IndexFormatError:
    return IndexFormatError(f"the index manifest {source} is damaged: {what}",
                            hint="re-run `vraagbaak index` to rebuild the index")
