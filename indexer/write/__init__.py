"""The write path: articles in (loading, chunking, planning the changes), a published index
version out (pipeline)."""
