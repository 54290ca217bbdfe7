"""The web API: a FastAPI app over the same Searcher the CLI uses."""
