"""A synchronous client of ovseg.v1.Segmentation (thread-safe: one channel, many calls)."""
import io
import os
from typing import Any, Iterable, Optional, Sequence, Tuple, Union

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ovseg.errors import OvsegError
from ovseg.result import SegmentResult
from ovseg.v1 import segmentation_pb2 as pb
from ovseg.v1 import segmentation_pb2_grpc

ImageLike = Union[str, os.PathLike, bytes, np.ndarray, Any]  # Any: a PIL image
LabelLike = Union[str, Sequence[str]]  # "cat" or ["cat", "kitty"] (synonyms)

_TASKS = {"semantic": pb.SEMANTIC, "panoptic": pb.PANOPTIC, "instance": pb.INSTANCE,
          "proposals": pb.PROPOSALS}
_HEAD_MODES = {None: pb.HEAD_MODE_UNSPECIFIED, "mask": pb.MASK, "dense": pb.DENSE,
               "fused": pb.FUSED}
_MASK_FORMATS = {"coco_rle": pb.COCO_RLE, "png": pb.PNG, "polygon": pb.POLYGON,
                 "none": pb.NO_MASK}


def _choice(table: dict, value, what: str):
    key = value.lower() if isinstance(value, str) else value
    if key not in table:
        raise ValueError(f"{what} {value!r}: expected one of {sorted(k for k in table if k)}")
    return table[key]


def _image(image: ImageLike) -> pb.Image:
    if isinstance(image, (str, os.PathLike)):
        with open(image, "rb") as f:
            return pb.Image(encoded=f.read())
    if isinstance(image, (bytes, bytearray)):
        return pb.Image(encoded=bytes(image))
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image array: expected H x W x 3 uint8 (RGB), got "
                             f"{image.shape} {image.dtype}")
        return pb.Image(raw_rgb8=pb.RawRgb8(width=image.shape[1], height=image.shape[0],
                                           pixels=np.ascontiguousarray(image).tobytes()))
    if hasattr(image, "convert") and hasattr(image, "size"):  # a PIL image, sent as raw RGB
        return _image(np.asarray(image.convert("RGB")))
    raise TypeError(f"image: a path, bytes, an H x W x 3 uint8 array or a PIL image, "
                    f"not {type(image).__name__}")


def _region(region) -> pb.Region:
    if isinstance(region, dict):  # COCO RLE, as pycocotools writes it
        counts = region["counts"]
        if isinstance(counts, bytes):
            counts = counts.decode("ascii")
        if not isinstance(counts, str):
            raise ValueError("region RLE: compressed counts (a string) expected")
        height, width = region["size"]
        return pb.Region(rle=pb.CocoRle(height=height, width=width, counts=counts))
    mask = np.asarray(region)
    if mask.ndim != 2:
        raise ValueError(f"region mask: expected H x W, got {mask.shape}")
    return pb.Region(png=_png_of_mask(mask.astype(bool)))


def _png_of_mask(mask: np.ndarray) -> bytes:
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover
        raise ImportError("boolean region masks are sent as PNG: pip install pillow, or "
                          "pass COCO RLE dicts") from e
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255).save(buffer, format="PNG")
    return buffer.getvalue()


def _labels(labels: Iterable[LabelLike]) -> pb.LabelList:
    out = pb.LabelList()
    for label in labels:
        name = label if isinstance(label, str) else ", ".join(label)
        out.labels.add(name=name)
    return out


def segment_request(image: ImageLike, labels: Optional[Iterable[LabelLike]] = None, *,
                    vocabulary_id: Optional[str] = None, task: str = "panoptic",
                    head_mode: Optional[str] = None, regions: Optional[Sequence] = None,
                    max_segments: Optional[int] = None, score_threshold: Optional[float] = None,
                    mask_format: str = "coco_rle",
                    semantic_map: bool = False) -> pb.SegmentRequest:
    """The SegmentRequest Client.segment and AsyncClient.segment send."""
    if (labels is None) == (vocabulary_id is None):
        raise ValueError("give labels or vocabulary_id, one of them")
    request = pb.SegmentRequest(image=_image(image), task=_choice(_TASKS, task, "task"))
    if labels is not None:
        request.labels.CopyFrom(_labels(labels))
    else:
        request.vocabulary_id = vocabulary_id
    o = request.options
    o.head_mode = _choice(_HEAD_MODES, head_mode, "head_mode")
    o.mask_format = _choice(_MASK_FORMATS, mask_format, "mask_format")
    o.return_semantic_map = semantic_map
    if max_segments is not None:
        o.max_segments = max_segments
    if score_threshold is not None:
        o.score_threshold = score_threshold
    for region in regions or ():
        request.regions.append(_region(region))
    return request


def vocabulary_request(labels: Iterable[LabelLike]) -> pb.RegisterVocabularyRequest:
    request = pb.RegisterVocabularyRequest()
    request.labels.extend(_labels(labels).labels)
    return request


def make_channel(address: str, *, root_certificates: Optional[bytes] = None,
                 private_key: Optional[bytes] = None, certificate_chain: Optional[bytes] = None,
                 options: Sequence[Tuple[str, Any]] = (), aio: bool = False):
    """A grpc (or grpc.aio) channel to `address`: TLS when root_certificates or a client
    certificate is given, messages up to 256 MiB, plus `options`."""
    module = grpc.aio if aio else grpc
    options = [("grpc.max_receive_message_length", 256 << 20),
               ("grpc.max_send_message_length", 256 << 20), *options]
    if root_certificates is not None or certificate_chain is not None:
        credentials = grpc.ssl_channel_credentials(root_certificates, private_key,
                                                   certificate_chain)
        return module.secure_channel(address, credentials, options=options)
    return module.insecure_channel(address, options=options)


def call_metadata(metadata: Sequence[Tuple[str, str]], token: Optional[str]):
    """The metadata every call sends: `metadata`, plus the bearer token if any."""
    out = list(metadata)
    if token is not None:
        out.append(("authorization", f"Bearer {token}"))
    return out


class BlockingClient:
    """What the blocking clients (Client, AdminClient) share: one channel to `address`, the
    metadata every call sends, the default deadline, and gRPC errors raised as OvsegError.

    TLS: pass root_certificates (PEM bytes) and, for mutual TLS, private_key and
    certificate_chain. token: sent as "authorization: Bearer TOKEN". timeout: default
    deadline per call, seconds. options: extra gRPC channel options.
    """

    def __init__(self, address: str, *, timeout: float, token: Optional[str] = None,
                 metadata: Sequence[Tuple[str, str]] = (),
                 root_certificates: Optional[bytes] = None, private_key: Optional[bytes] = None,
                 certificate_chain: Optional[bytes] = None,
                 options: Sequence[Tuple[str, Any]] = ()):
        self._channel = make_channel(address, root_certificates=root_certificates,
                                     private_key=private_key,
                                     certificate_chain=certificate_chain, options=options)
        self._timeout = timeout
        self._metadata = call_metadata(metadata, token)

    def _call(self, method, request, timeout: Optional[float] = None):
        try:
            return method(request, timeout=self._timeout if timeout is None else timeout,
                          metadata=self._metadata)
        except grpc.RpcError as error:
            raise OvsegError.from_rpc_error(error) from None

    def close(self) -> None:
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Client(BlockingClient):
    """ovseg's Segmentation service at `address` ("host:port", or any gRPC target such as
    "dns:///ovseg.default.svc.cluster.local:50051"); connection arguments as
    BlockingClient's (timeout defaults to 30 s).
    """

    def __init__(self, address: str, *, timeout: float = 30.0, **connection):
        super().__init__(address, timeout=timeout, **connection)
        self._stub = segmentation_pb2_grpc.SegmentationStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def segment(self, image: ImageLike, labels: Optional[Iterable[LabelLike]] = None, *,
                vocabulary_id: Optional[str] = None, task: str = "panoptic",
                head_mode: Optional[str] = None, regions: Optional[Sequence] = None,
                max_segments: Optional[int] = None, score_threshold: Optional[float] = None,
                mask_format: str = "coco_rle", semantic_map: bool = False,
                timeout: Optional[float] = None) -> SegmentResult:
        """Segments `image` (a path, encoded bytes, an H x W x 3 uint8 RGB array or a PIL
        image) for `labels` (each a name or a list of synonyms), or for a vocabulary
        registered earlier (`vocabulary_id`). regions: masks to classify instead of the
        model's proposals, each an H x W bool array or a COCO RLE dict."""
        request = segment_request(image, labels, vocabulary_id=vocabulary_id, task=task,
                                  head_mode=head_mode, regions=regions,
                                  max_segments=max_segments, score_threshold=score_threshold,
                                  mask_format=mask_format, semantic_map=semantic_map)
        return SegmentResult(self._call(self._stub.Segment, request, timeout))

    def register_vocabulary(self, labels: Iterable[LabelLike]) -> str:
        """Encodes `labels` once on the server; returns an id for segment(vocabulary_id=)."""
        return self._call(self._stub.RegisterVocabulary, vocabulary_request(labels),
                          None).vocabulary_id

    def model_info(self) -> pb.GetModelInfoResponse:
        return self._call(self._stub.GetModelInfo, pb.GetModelInfoRequest(), None)

    def health(self, service: str = "") -> str:
        """"SERVING" or "NOT_SERVING" ("" = ready to segment; "liveness" = the process
        answers)."""
        reply = self._call(self._health.Check, health_pb2.HealthCheckRequest(service=service),
                           None)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
