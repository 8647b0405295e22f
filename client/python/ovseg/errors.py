"""Errors the client raises: the server's gRPC status code and message, as an exception."""
from typing import Optional

import grpc


class OvsegError(Exception):
    """A call the server (or the transport) refused or failed.

    code: the grpc.StatusCode (INVALID_ARGUMENT names the field or limit; RESOURCE_EXHAUSTED
    and DEADLINE_EXCEEDED at admission mean "overloaded, retry later"; UNAVAILABLE while the
    server warms up or drains). message: the server's text. retry_after: seconds the server
    advised waiting before a retry (its grpc-retry-pushback-ms), or None.
    """

    def __init__(self, code: grpc.StatusCode, message: str, retry_after: Optional[float] = None):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "OvsegError":
        retry_after = None
        for key, value in (error.trailing_metadata() or ()):
            if key == "grpc-retry-pushback-ms":
                try:
                    retry_after = int(value) / 1000.0
                except ValueError:
                    pass
        return cls(error.code(), error.details() or "", retry_after)
