"""vraagbaak's index and write path: the index directory and its parts (indexer.index), the
embedder backends (indexer.embedders), the write path (indexer.write), and what every layer
shares (errors, records, dates, settings)."""
