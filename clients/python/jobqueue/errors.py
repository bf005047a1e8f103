"""The protocol's errors as exceptions, each carrying its code (PROTOCOL.md)."""
from __future__ import annotations

from typing import Any, Dict, Optional


class JobqueueError(Exception):
    """An error answer of the daemon: `code`, `message`, `data` (a dict, maybe empty)."""

    code: Optional[int] = None

    def __init__(self, message: str, code: Optional[int] = None, data: Optional[Dict[str, Any]] = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.data = data or {}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code is not None else self.message


class DaemonUnavailable(JobqueueError, ConnectionError):
    """Nothing answers on the socket, or the daemon closed the connection."""


class ParseError(JobqueueError):
    code = -32700


class InvalidRequest(JobqueueError):
    code = -32600


class MethodNotFound(JobqueueError):
    code = -32601


class InvalidParams(JobqueueError):
    code = -32602


class InternalError(JobqueueError):
    code = -32603


class NotFound(JobqueueError):
    code = 1001


class InvalidState(JobqueueError):
    code = 1002


class UnknownHandler(JobqueueError):
    code = 1003


class PermissionDenied(JobqueueError):
    code = 1004


class Overloaded(JobqueueError):
    code = 1005


class ShuttingDown(JobqueueError):
    code = 1006


class LeaseLost(JobqueueError):
    """The token no longer holds the job (WORKERS.md): `data["state"]` is its state now."""

    code = 1007


class UnknownSchedule(JobqueueError):
    """No schedule of that name is configured (SCHEDULING.md)."""

    code = 1008


BY_CODE = {cls.code: cls for cls in (ParseError, InvalidRequest, MethodNotFound, InvalidParams, InternalError, NotFound,
                                     InvalidState, UnknownHandler, PermissionDenied, Overloaded, ShuttingDown, LeaseLost,
                                     UnknownSchedule)}


def from_wire(error: Dict[str, Any]) -> JobqueueError:
    """The exception for an error object of a response."""
    code = error.get("code")
    cls = BY_CODE.get(code, JobqueueError)
    return cls(str(error.get("message", "")), code=code, data=error.get("data") or {})
