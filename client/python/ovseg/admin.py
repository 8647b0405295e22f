"""ovseg.v1.ModelAdmin: submit, list and activate checkpoints (needs the server's admin
token, ServerConfig.admin.token_file)."""
import hashlib
import os
from typing import Iterator, List, Optional

from ovseg.client import BlockingClient
from ovseg.v1 import admin_pb2, admin_pb2_grpc

_CHUNK = 1 << 20


class AdminClient(BlockingClient):
    """Checkpoint administration on one server. token: the admin bearer token; other
    connection arguments as BlockingClient's (timeout defaults to 600 s: uploads)."""

    def __init__(self, address: str, token: str, *, timeout: float = 600.0, **connection):
        super().__init__(address, timeout=timeout, token=token, **connection)
        self._stub = admin_pb2_grpc.ModelAdminStub(self._channel)

    def submit(self, path: str, name: Optional[str] = None) -> admin_pb2.CheckpointInfo:
        """Uploads a checkpoint file (streamed in 1 MiB chunks); the server verifies and
        stores it, and returns its info. name: default the file's name."""
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(_CHUNK), b""):
                digest.update(block)
        metadata = admin_pb2.CheckpointMetadata(name=name or os.path.basename(path),
                                                size_bytes=os.path.getsize(path),
                                                sha256=digest.hexdigest())

        def chunks() -> Iterator[admin_pb2.CheckpointChunk]:
            yield admin_pb2.CheckpointChunk(metadata=metadata)
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(_CHUNK), b""):
                    yield admin_pb2.CheckpointChunk(data=block)

        return self._call(self._stub.SubmitCheckpoint, chunks()).checkpoint

    def list(self) -> List[admin_pb2.CheckpointInfo]:
        """Stored checkpoints, newest first; `.active` marks the serving one."""
        return list(self._call(self._stub.ListCheckpoints,
                               admin_pb2.ListCheckpointsRequest()).checkpoints)

    def activate(self, name: str) -> str:
        """Swaps the stored checkpoint `name` in (or rolls back to it); returns the model
        version now serving."""
        return self._call(self._stub.ActivateCheckpoint,
                          admin_pb2.ActivateCheckpointRequest(name=name)).model_version
