"""A synchronous client of jobqueued: one connection, one request at a time."""
from __future__ import annotations

import json
import select
import socket
import threading
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .errors import DaemonUnavailable, from_wire
from .paths import default_socket_path

_UNSET = object()


class Client:
    """Every method of PROTOCOL.md and WORKERS.md. Results are the JSON
    results as dicts; an error answer raises its exception (`NotFound`,
    `LeaseLost`, ...). Thread-safe: calls from several threads take turns
    (use one Client per thread for calls at the same time)."""

    def __init__(self, socket_path: Optional[str] = None, timeout: Optional[float] = None):
        self.socket_path = default_socket_path(socket_path)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._sock: Optional[socket.socket] = None
        self._reader = None
        self._next_id = 0
        self._aborted = False

    # -- connection

    def _connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError as error:
            sock.close()
            raise DaemonUnavailable(f"cannot connect to {self.socket_path}: {error.strerror or error}") from None
        self._sock = sock
        self._reader = sock.makefile("rb")

    def _closed_by_peer(self) -> bool:
        """Whether the daemon has closed this connection (nothing is read from it)."""
        try:
            # Readable with nothing asked means end of file (or an error).
            # select first: a socket with a timeout would wait in recv.
            readable, _, _ = select.select([self._sock], [], [], 0)
            return bool(readable) and self._sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def close(self) -> None:
        """Closes the connection; the next call opens a new one."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
        self._sock = None
        self._reader = None

    def abort(self) -> None:
        """Closes the connection from another thread: a call waiting on it
        (a long-polling `reserve`) ends with `DaemonUnavailable`."""
        self._aborted = True
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call(self, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
        """Any method; returns its `result`, or raises its error."""
        with self._lock:
            self._next_id += 1
            message: Dict[str, Any] = {"jsonrpc": "2.0", "id": self._next_id, "method": method}
            if params is not None:
                message["params"] = params
            line = (json.dumps(message, separators=(",", ":")) + "\n").encode()
            if self._sock is not None and self._closed_by_peer():
                # The daemon closed it while idle (idle_timeout, a restart):
                # a new connection, before anything is sent on the old one.
                self._close_locked()
            if self._sock is None:
                self._connect()
            try:
                self._sock.sendall(line)
                answer = self._reader.readline()
            except OSError as error:
                self._close_locked()
                raise DaemonUnavailable(f"connection to {self.socket_path} failed: {error}") from None
            if not answer:
                # Never sent again: the daemon may have done it before the connection went.
                self._close_locked()
                aborted, self._aborted = self._aborted, False
                raise DaemonUnavailable("the connection was closed by abort()" if aborted
                                        else "the daemon closed the connection before answering")
        response = json.loads(answer)
        if "error" in response:
            raise from_wire(response["error"])
        return response.get("result")

    def call_many(self, calls: List[Tuple[str, Optional[Dict[str, Any]]]]) -> List[Any]:
        """Pipelines several calls on this connection: writes them all, then
        reads every answer. Returns, in the order given, each call's result
        or its exception (not raised). Not retried on a closed connection."""
        if not calls:
            return []
        with self._lock:
            if self._sock is not None and self._closed_by_peer():
                self._close_locked()
            if self._sock is None:
                self._connect()
            first = self._next_id + 1
            lines = []
            for method, params in calls:
                self._next_id += 1
                message: Dict[str, Any] = {"jsonrpc": "2.0", "id": self._next_id, "method": method}
                if params is not None:
                    message["params"] = params
                lines.append(json.dumps(message, separators=(",", ":")))
            answers: Dict[int, Any] = {}
            try:
                self._sock.sendall(("\n".join(lines) + "\n").encode())
                while len(answers) < len(calls):
                    line = self._reader.readline()
                    if not line:
                        raise DaemonUnavailable("the daemon closed the connection")
                    response = json.loads(line)
                    answers[response.get("id")] = response
            except (OSError, DaemonUnavailable) as error:
                self._close_locked()
                raise DaemonUnavailable(f"connection to {self.socket_path} failed: {error}") from None
        results = []
        for n in range(first, first + len(calls)):
            response = answers[n]
            results.append(from_wire(response["error"]) if "error" in response else response.get("result"))
        return results

    # -- jobs

    def enqueue(self, handler: str, payload: Any = None, *, queue: Optional[str] = None, priority: Optional[int] = None,
                delay_ms: Optional[int] = None, run_at: Optional[str] = None, max_attempts: Optional[int] = None,
                timeout_ms: Optional[int] = None, unique_key: Optional[str] = None, tags: Optional[Iterable[str]] = None,
                wait_ms: Optional[int] = None, after: Optional[Iterable[int]] = None,
                concurrency_key: Optional[str] = None) -> Dict[str, Any]:
        """Stores a job: `{"id", "state", "duplicate"}` once committed; with
        `wait_ms`, the job object once finished (or as it stands then).
        `after`: ids that must succeed first (the job is `blocked` until then);
        `concurrency_key`: at most the handler's `key_concurrency` such jobs run at once."""
        params = _job_params(handler, payload, queue, priority, delay_ms, run_at, max_attempts, timeout_ms, unique_key, tags)
        if after is not None:
            params["after"] = list(after)
        if concurrency_key is not None:
            params["concurrency_key"] = concurrency_key
        if wait_ms is not None:
            params["wait_ms"] = wait_ms
        return self.call("enqueue", params)

    def enqueue_batch(self, jobs: List[Dict[str, Any]]) -> Dict[str, Any]:
        """Stores every job (each a dict of enqueue's params, plus `after_index`:
        earlier entries of this batch that must succeed first) or none: `{"ids", "duplicates"}`."""
        return self.call("enqueue_batch", {"jobs": jobs})

    def get(self, id: int) -> Dict[str, Any]:
        return self.call("get", {"id": id})

    def wait(self, id: int, timeout_ms: Optional[int] = None) -> Dict[str, Any]:
        params: Dict[str, Any] = {"id": id}
        if timeout_ms is not None:
            params["timeout_ms"] = timeout_ms
        return self.call("wait", params)

    def list(self, *, queue: Optional[str] = None, state: Optional[str] = None, handler: Optional[str] = None,
             tag: Optional[str] = None, limit: Optional[int] = None, after_id: Optional[int] = None) -> Dict[str, Any]:
        """One page: `{"jobs": [...], "next_after_id": ...}`."""
        params = {k: v for k, v in (("queue", queue), ("state", state), ("handler", handler), ("tag", tag), ("limit", limit),
                                    ("after_id", after_id)) if v is not None}
        return self.call("list", params)

    def cancel(self, id: int) -> Dict[str, Any]:
        return self.call("cancel", {"id": id})

    def retry(self, id: int) -> Dict[str, Any]:
        return self.call("retry", {"id": id})

    def stats(self) -> Dict[str, Any]:
        return self.call("stats")

    def pause(self, queue: str) -> Dict[str, Any]:
        return self.call("pause", {"queue": queue})

    def resume(self, queue: str) -> Dict[str, Any]:
        return self.call("resume", {"queue": queue})

    def ping(self) -> Dict[str, Any]:
        return self.call("ping")

    # -- schedules (SCHEDULING.md); an unknown name raises UnknownSchedule

    def schedules(self) -> List[Dict[str, Any]]:
        """The configured schedules: name, cron or every, timezone, next_run_at, last_job_id, skipped, ..."""
        return self.call("schedules")["schedules"]

    def pause_schedule(self, name: str) -> Dict[str, Any]:
        return self.call("pause_schedule", {"name": name})

    def resume_schedule(self, name: str) -> Dict[str, Any]:
        return self.call("resume_schedule", {"name": name})

    def trigger_schedule(self, name: str) -> int:
        """Enqueues the schedule's job now; returns its id."""
        return self.call("trigger_schedule", {"name": name})["id"]

    # -- external workers (WORKERS.md)

    def reserve(self, handlers: Iterable[str], *, max_jobs: Optional[int] = None, lease_ms: Optional[int] = None,
                wait_ms: Optional[int] = None, worker: Optional[str] = None) -> List[Dict[str, Any]]:
        """Up to `max_jobs` jobs of those external handlers, each with its
        `lease` (`token`, `expires_at`); with `wait_ms`, waits for one."""
        params: Dict[str, Any] = {"handlers": list(handlers)}
        for key, value in (("max_jobs", max_jobs), ("lease_ms", lease_ms), ("wait_ms", wait_ms), ("worker", worker)):
            if value is not None:
                params[key] = value
        return self.call("reserve", params)["jobs"]

    def heartbeat(self, id: int, token: str, *, lease_ms: Optional[int] = None, progress: Any = _UNSET) -> Dict[str, Any]:
        """Extends the lease: `{"expires_at", "cancel_requested"}`."""
        params: Dict[str, Any] = {"id": id, "token": token}
        if lease_ms is not None:
            params["lease_ms"] = lease_ms
        if progress is not _UNSET:
            params["progress"] = progress
        return self.call("heartbeat", params)

    def complete(self, id: int, token: str, result: Any = _UNSET) -> Dict[str, Any]:
        params: Dict[str, Any] = {"id": id, "token": token}
        if result is not _UNSET:
            params["result"] = result
        return self.call("complete", params)

    def fail(self, id: int, token: str, message: str, *, retry: bool = True, details: Any = _UNSET) -> Dict[str, Any]:
        error: Dict[str, Any] = {"message": message, "retry": retry}
        if details is not _UNSET:
            error["details"] = details
        return self.call("fail", {"id": id, "token": token, "error": error})

    def workers(self) -> List[Dict[str, Any]]:
        """The connected external workers (name, pid, uid, gid, jobs_held, ...)."""
        return self.call("workers")["workers"]


def _job_params(handler, payload, queue, priority, delay_ms, run_at, max_attempts, timeout_ms, unique_key, tags) -> Dict[str, Any]:
    params: Dict[str, Any] = {"handler": handler}
    if payload is not None:
        params["payload"] = payload
    for key, value in (("queue", queue), ("priority", priority), ("delay_ms", delay_ms), ("run_at", run_at),
                       ("max_attempts", max_attempts), ("timeout_ms", timeout_ms), ("unique_key", unique_key)):
        if value is not None:
            params[key] = value
    if tags:
        params["tags"] = list(tags)
    return params
