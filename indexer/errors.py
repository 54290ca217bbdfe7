"""The errors vraagbaak raises on purpose.

Only the CLI and the web API turn these into messages, exit codes and status codes; everything
below them raises, never prints or exits.
"""

from __future__ import annotations


class VraagbaakError(Exception):
    """Base class: ``str(error)`` is a complete sentence for a person, ``hint`` says what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class InputError(VraagbaakError):
    """An article file or line cannot be used."""


class QueryError(VraagbaakError):
    """A question or search option cannot be used (empty, too long, k out of range)."""


class IndexNotFoundError(VraagbaakError):
    """There is no index at the given directory yet."""


class IndexFormatError(VraagbaakError):
    """An index directory exists but is damaged or of an unknown format."""


class ModelError(VraagbaakError):
    """The embedding model cannot be built or loaded."""


class ModelMismatchError(VraagbaakError):
    """An index would mix or compare embeddings of two different models."""


class IndexBusyError(VraagbaakError):
    """Another writer holds the index's write lock."""


class IndexWriteError(VraagbaakError):
    """A new index version could not be written (disk full, permissions); the old one stands."""


class VectorStoreError(VraagbaakError):
    """The vector store outside the index folder (Milvus) cannot be reached or used."""
