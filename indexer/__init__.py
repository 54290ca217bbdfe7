"""vraagbaak's write path: load articles, chunk them, embed them, write an index directory."""
