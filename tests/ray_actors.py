"""An embedding actor that dies, for tests/test_ray.py: on its second batch, once per marker
file, the actor's process exits without a word (as a node's OOM killer or a lost node would end
it), after its first batch's vectors were delivered. Ray restarts the actor and retries the batch."""

from __future__ import annotations

import os

from indexer.write.ray_embedding import EmbedActor


class DiesOnce(EmbedActor):
    def __init__(self, *args, marker: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.marker, self.calls = marker, 0

    def __call__(self, batch: dict) -> dict:
        self.calls += 1
        if self.calls == 2:
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:  # died once already: this one lives
                return super().__call__(batch)
            os.write(fd, ",".join(str(i) for i in batch["id"]).encode())
            os.close(fd)
            os._exit(1)
        return super().__call__(batch)
