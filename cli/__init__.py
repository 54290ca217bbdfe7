"""vraagbaak's edges: the command line and the server (cli.server), thin shells over indexer/
and search/ that build the settings and turn errors into messages and status codes."""
