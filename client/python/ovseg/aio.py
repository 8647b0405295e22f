"""The asyncio client: Client's calls as coroutines, on a grpc.aio channel.

    async with ovseg.AsyncClient("127.0.0.1:50051") as client:
        results = await asyncio.gather(*(client.segment(p, labels) for p in paths))
"""
from typing import Iterable, Optional, Sequence, Tuple

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ovseg.client import (ImageLike, LabelLike, call_metadata, make_channel, segment_request,
                          vocabulary_request)
from ovseg.errors import OvsegError
from ovseg.result import SegmentResult
from ovseg.v1 import segmentation_pb2 as pb
from ovseg.v1 import segmentation_pb2_grpc


class AsyncClient:
    """As ovseg.Client (same arguments and results), for asyncio code. Create it inside
    the event loop that uses it."""

    def __init__(self, address: str, *, timeout: float = 30.0, token: Optional[str] = None,
                 metadata: Sequence[Tuple[str, str]] = (), **channel):
        # channel: make_channel's TLS arguments and options.
        self._channel = make_channel(address, aio=True, **channel)
        self._stub = segmentation_pb2_grpc.SegmentationStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._timeout = timeout
        self._metadata = call_metadata(metadata, token)

    async def _call(self, method, request, timeout: Optional[float]):
        call = method(request, timeout=self._timeout if timeout is None else timeout,
                      metadata=self._metadata)
        try:
            return await call
        except grpc.aio.AioRpcError as error:
            raise OvsegError.from_rpc_error(error) from None

    async def segment(self, image: ImageLike, labels: Optional[Iterable[LabelLike]] = None, *,
                      timeout: Optional[float] = None, **options) -> SegmentResult:
        """Client.segment's arguments (vocabulary_id, task, head_mode, regions, ...)."""
        request = segment_request(image, labels, **options)
        return SegmentResult(await self._call(self._stub.Segment, request, timeout))

    async def register_vocabulary(self, labels: Iterable[LabelLike]) -> str:
        reply = await self._call(self._stub.RegisterVocabulary, vocabulary_request(labels), None)
        return reply.vocabulary_id

    async def model_info(self) -> pb.GetModelInfoResponse:
        return await self._call(self._stub.GetModelInfo, pb.GetModelInfoRequest(), None)

    async def health(self, service: str = "") -> str:
        reply = await self._call(self._health.Check,
                                 health_pb2.HealthCheckRequest(service=service), None)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
