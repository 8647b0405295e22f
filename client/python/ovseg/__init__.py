"""Python client of the ovseg open-vocabulary segmentation server.

    import ovseg
    with ovseg.Client("127.0.0.1:50051") as client:
        result = client.segment("street.jpg", ["car", "person", ["road", "street"]])
        for label, score, mask in zip(result.labels, result.scores, result.masks):
            print(label, score, mask.sum())
"""
from ovseg.admin import AdminClient
from ovseg.aio import AsyncClient
from ovseg.client import Client
from ovseg.errors import OvsegError
from ovseg.masks import decode_rle
from ovseg.result import SegmentResult

__all__ = ["AdminClient", "AsyncClient", "Client", "OvsegError", "SegmentResult", "decode_rle"]
