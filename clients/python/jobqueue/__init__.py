"""jobqueue: the client and the external worker of jobqueued (standard library only).

    import jobqueue
    client = jobqueue.Client()                 # JOBQUEUE_SOCKET, else the default path
    job = client.enqueue("echo", {"hi": 1}, wait_ms=30000)
"""
from .client import Client
from .errors import (BY_CODE, DaemonUnavailable, InternalError, InvalidParams, InvalidRequest, InvalidState, JobqueueError,
                     LeaseLost, MethodNotFound, NotFound, Overloaded, ParseError, PermissionDenied, ShuttingDown,
                     UnknownHandler, UnknownSchedule)
from .paths import default_socket_path
from .worker import Job, Permanent, Worker

__all__ = ["Client", "Worker", "Job", "Permanent", "default_socket_path", "JobqueueError", "DaemonUnavailable", "ParseError",
           "InvalidRequest", "MethodNotFound", "InvalidParams", "InternalError", "NotFound", "InvalidState", "UnknownHandler",
           "PermissionDenied", "Overloaded", "ShuttingDown", "LeaseLost", "UnknownSchedule", "BY_CODE"]
__version__ = "0.1.0"
