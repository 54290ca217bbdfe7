"""The index and its parts: the directory and its versions, the manifest, the chunk store,
the vector backends and the keyword backend."""
