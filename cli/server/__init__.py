"""The server: the FastAPI app (HTTP API, search page) and the MCP server, a thin shell over
the read path (search) and the write path (indexer.write), like the command line."""
