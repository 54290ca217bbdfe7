"""vraagbaak's command line: thin shells over indexer/ and search/."""
