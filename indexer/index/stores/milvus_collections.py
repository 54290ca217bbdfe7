"""The write side of the Milvus store: an index's two collections made (or checked: another
model's or dimension's are refused), rows upserted and deleted by stable id, and each
collection's vector index fitted to its size. The read side, and why the collections look as
they do: milvus.py.

The index kind follows ``--vector-index`` as FAISS's does (decision 0013): ``auto`` is FLAT
(exact) below IVF_FROM vectors and IVF_FLAT from there, ``flat`` and ``ivf`` ask for one at any
size. IVF_FLAT because both Milvus engines here have it (milvus-lite 2.5 has FLAT and IVF_FLAT
only, so one code path is tested on both) and it keeps the vectors unquantised.
Why: docs/decisions/0052-milvus-ivf-by-size.md
"""

from __future__ import annotations

from indexer.errors import ModelMismatchError
from indexer.index.stores.milvus import BATCH, Location, MilvusClientUser, connect, unreachable

FLAT = {"index_type": "FLAT", "metric_type": "IP"}
PROBED_SHARE = 4  # nprobe = nlist / 4 (at least 8): recall before speed, as 0017 tunes FAISS's
REFIT_GROWTH = 4  # an IVF is rebuilt once the lists its size wants are 4x its own (16x rows)


def index_for(count: int, setting: str) -> dict:
    """The Milvus vector index for a collection of ``count`` vectors under ``setting``."""
    from indexer.index.vectors import AUTO, IVF_FROM, ivf_lists

    if setting == "flat" or (setting == AUTO and count < IVF_FROM):
        return dict(FLAT)
    nlist = ivf_lists(count)
    return {"index_type": "IVF_FLAT", "metric_type": "IP", "params": {"nlist": nlist},
            "search": {"nprobe": min(nlist, max(8, nlist // PROBED_SHARE))}}


def refit_due(built: dict, wanted: dict) -> bool:
    """Whether a collection whose index is ``built`` is re-indexed to ``wanted``: another kind,
    or an IVF whose lists are far too few for its size now (each refit drops the index and
    rebuilds it, so not at every growth)."""
    if built.get("index_type") != wanted["index_type"]:
        return True
    if wanted["index_type"] == FLAT["index_type"]:
        return False
    return wanted["params"]["nlist"] >= REFIT_GROWTH * built.get("params", {}).get("nlist", 1)


def collection_names(prefix: str) -> dict:
    return {"passages": f"{prefix}_passages", "sentences": f"{prefix}_sentences"}


def _describe(fingerprint: str, dim: int) -> str:
    return f"vraagbaak vectors; model fingerprint {fingerprint}; dim {dim}"


def ensure_collection(client, location: Location, name: str, dim: int, fingerprint: str,
                      index: dict) -> None:
    """Create ``name`` for vectors of ``dim`` by this model, or check that the one there is."""
    from pymilvus import DataType

    try:
        if client.has_collection(name):
            found = client.describe_collection(name)
            dims = [f.get("params", {}).get("dim") for f in found.get("fields", [])
                    if f.get("name") == "vector"]
            if found.get("description") != _describe(fingerprint, dim) or dims != [dim]:
                raise ModelMismatchError(
                    f"the Milvus collection {name} at {location.uri} holds other vectors "
                    f"({found.get('description') or 'not vraagbaak' }, dim {dims[0] if dims else '?'}); "
                    f"this index's are of dim {dim}, model fingerprint {fingerprint}",
                    hint="build the index into a new --index folder (new collections), or drop "
                         "that collection")
            return
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False,
                                      description=_describe(fingerprint, dim))
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        for field in ("date_from", "date_to", "article"):
            schema.add_field(field, DataType.INT64)
        params = client.prepare_index_params()
        params.add_index(field_name="vector", index_type=index["index_type"],
                         metric_type=index["metric_type"], params=index.get("params", {}))
        client.create_collection(name, schema=schema, index_params=params,
                                 consistency_level="Bounded")
    except ModelMismatchError:
        raise
    except Exception as exc:
        raise unreachable(location, exc) from exc


class MilvusCollections(MilvusClientUser):
    """The write side: an index's two collections, made or checked, rows upserted and deleted
    by stable id."""

    def __init__(self, location: Location, names: dict, dim: int, fingerprint: str,
                 index: dict) -> None:
        self.location, self.names, self.dim = location, names, dim
        self._client = connect(location)
        try:
            for name in names.values():
                ensure_collection(self._client, location, name, dim, fingerprint, index)
        except BaseException:
            self.close()
            raise

    def upsert(self, part: str, ids, vectors: np.ndarray, spans: list, articles: list) -> None:
        name = self.names[part]
        for start in range(0, len(ids), BATCH):
            rows = [{"id": int(i), "vector": v.tolist(), "date_from": int(span[0]),
                     "date_to": int(span[1]), "article": int(a)}
                    for i, v, span, a in zip(ids[start:start + BATCH],
                                             vectors[start:start + BATCH],
                                             spans[start:start + BATCH],
                                             articles[start:start + BATCH])]
            self._call("upsert", name, rows)

    def fit_indexes(self, built: dict, setting: str, counts: dict) -> dict:
        """Each collection's index, given the one ``built`` (the manifest's) and its vector
        ``counts``: kept, or dropped and built anew where refit_due says. Returns what each
        collection has now, for the manifest (readers take their search parameters from it)."""
        fitted = {}
        for part, name in self.names.items():
            have = built.get(part, FLAT)
            wanted = index_for(int(counts.get(part, 0)), setting)
            if refit_due(have, wanted):
                self._reindex(name, wanted)
                have = wanted
            fitted[part] = dict(have)
        return fitted

    def _reindex(self, name: str, index: dict) -> None:
        """Milvus 2.3 keeps one index per field and drops it only from a released collection:
        searches of it fail until it is loaded again (seconds; the build itself goes on in
        the background, searches meanwhile scan the rows)."""
        params = self._client.prepare_index_params()
        params.add_index(field_name="vector", index_type=index["index_type"],
                         metric_type=index["metric_type"], params=index.get("params", {}))
        self._call("release_collection", name)
        self._call("drop_index", name, "vector")
        self._call("create_index", name, params)
        self._call("load_collection", name)

    def delete(self, part: str, ids) -> None:
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), BATCH):
            self._call("delete", self.names[part], ids=ids[start:start + BATCH])

    def drop(self) -> None:
        """Drop the index's collections, rows and all (a benchmark's or a test's scratch; an
        index's own collections outlive its versions and are never dropped by vraagbaak)."""
        for name in self.names.values():
            self._call("drop_collection", name)

    def written_ts(self) -> int:
        """The newest timestamp of this process's writes to the collections (0 where the
        server gives none, as milvus-lite): what the version's readers ask to see."""
        try:
            from pymilvus.client import ts_utils

            address = self._client._get_connection().server_address
            return max(int(ts_utils.get_collection_ts(n, address, "") or 0)
                       for n in self.names.values())
        except Exception:  # an internal of pymilvus moved: readers fall back to Bounded
            return 0
