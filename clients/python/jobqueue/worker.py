"""An external worker: serves jobs of external handlers with functions."""
from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Union

from .client import Client
from .errors import DaemonUnavailable, JobqueueError, LeaseLost, ShuttingDown

log = logging.getLogger("jobqueue.worker")


class Permanent(Exception):
    """Raise it from a handler for a failure no retry can mend: the job is
    `failed` at once (`fail` with `retry: false`)."""


class Job:
    """What a handler function gets: the job object's fields as attributes
    (`job.id`, `job.payload`, `job.attempts`, ...), and `progress()`."""

    def __init__(self, data: Dict[str, Any], worker: "Worker"):
        self.data = data
        self.id: int = data["id"]
        self.handler: str = data["handler"]
        self.payload: Any = data.get("payload")
        self.attempts: int = data["attempts"]
        self.max_attempts: int = data["max_attempts"]
        self.token: str = data["lease"]["token"]
        self.expires_at: float = _parse_time(data["lease"]["expires_at"])
        # The lease as granted; heartbeats go out at a third of it.
        self.lease_s = max(self.expires_at - time.time(), 0.3)
        self.next_beat = time.time() + self.lease_s / 3
        self._worker = worker
        self._progress: Any = None
        self._progress_set = False
        # Its end is on its way: no more heartbeats (they would cross it).
        self.ending = False

    def progress(self, value: Any) -> None:
        """Reported with the next heartbeat (any JSON, at most 4 KiB)."""
        self._progress = value
        self._progress_set = True

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


Handler = Callable[[Job], Any]


class Worker:
    """Reserves jobs of the registered handlers and runs up to `concurrency`
    at once, on threads. A function's return value completes the job; an
    exception fails the attempt (retried with backoff), `Permanent` fails the
    job. Heartbeats go out in the background at a third of each lease.

    `run()` blocks until SIGTERM or SIGINT (when called on the main thread)
    or `stop()`: then it stops reserving, finishes the jobs it holds, and
    returns."""

    def __init__(self, socket_path: Union[str, Client, None] = None, *, concurrency: int = 1, max_jobs: Optional[int] = None,
                 lease_ms: Optional[int] = None, wait_ms: int = 5000, name: Optional[str] = None,
                 handlers: Optional[Dict[str, Handler]] = None):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        path = socket_path.socket_path if isinstance(socket_path, Client) else socket_path
        self._connect = lambda: Client(path)
        self.concurrency = concurrency
        self.max_jobs = min(max_jobs or concurrency, concurrency, 100)
        self.lease_ms = lease_ms
        self.wait_ms = wait_ms
        self.name = name or f"python-{os.getpid()}"
        self.handlers: Dict[str, Handler] = dict(handlers or {})
        self._stopping = threading.Event()
        self._free = threading.Semaphore(concurrency)
        self._jobs: "queue.Queue[Optional[Job]]" = queue.Queue()
        self._held: Dict[int, Job] = {}
        self._held_lock = threading.Lock()
        self._reserver: Optional[Client] = None
        # Ends (complete/fail) go out from one thread, many per write: one
        # connection, and the daemon commits them together.
        self._ends: "queue.Queue[Optional[tuple]]" = queue.Queue()

    def register(self, name: str, function: Handler) -> None:
        self.handlers[name] = function

    def handler(self, name: str) -> Callable[[Handler], Handler]:
        """A decorator: `@worker.handler("resize")`."""
        def register(function: Handler) -> Handler:
            self.register(name, function)
            return function
        return register

    def stop(self) -> None:
        """Stops reserving; the jobs held run to their end."""
        self._stopping.set()
        reserver = self._reserver
        if reserver is not None:
            reserver.abort()  # a long-polling reserve returns now

    def run(self) -> None:
        if not self.handlers:
            raise ValueError("no handler registered")
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, lambda *_: self.stop())
            # A parent may have started us with them blocked (the mask is inherited).
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
        threads = [threading.Thread(target=self._run_jobs, name=f"jobqueue-job-{n}", daemon=True) for n in range(self.concurrency)]
        beater = threading.Thread(target=self._heartbeats, name="jobqueue-heartbeat", daemon=True)
        ender = threading.Thread(target=self._send_ends, name="jobqueue-ends", daemon=True)
        for thread in threads + [beater, ender]:
            thread.start()
        try:
            self._reserve_loop()
        finally:
            self._stopping.set()
            for _ in threads:
                self._jobs.put(None)
            for thread in threads:
                thread.join()
            self._ends.put(None)
            ender.join()
            beater.join()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # -- reserving

    def _reserve_loop(self) -> None:
        self._reserver = self._connect()
        names = sorted(self.handlers)
        try:
            while not self._stopping.is_set():
                self._free.acquire()
                taken = 1
                while taken < self.max_jobs and self._free.acquire(blocking=False):
                    taken += 1
                if self._stopping.is_set():
                    self._release(taken)
                    break
                try:
                    reserved = self._reserver.reserve(names, max_jobs=taken, lease_ms=self.lease_ms, wait_ms=self.wait_ms,
                                                      worker=self.name)
                except ShuttingDown:
                    self._release(taken)
                    break
                except DaemonUnavailable:
                    self._release(taken)
                    if self._stopping.is_set():
                        break
                    log.warning("the daemon is not answering; trying again in 1 s")
                    time.sleep(1)
                    continue
                self._release(taken - len(reserved))
                for data in reserved:
                    job = Job(data, self)
                    with self._held_lock:
                        self._held[job.id] = job
                    self._jobs.put(job)
        finally:
            self._reserver.close()

    def _release(self, n: int) -> None:
        for _ in range(n):
            self._free.release()

    # -- running

    def _run_jobs(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            end = self._run(job)
            job.ending = True
            self._ends.put(end)

    def _run(self, job: Job) -> tuple:
        """Runs the job's function; returns its end as (job, method, params)."""
        function = self.handlers[job.handler]
        try:
            result = function(job)
        except Exception as error:  # a handler's failure is the job's, never the worker's
            message = str(error) or type(error).__name__
            failure = {"message": message, "retry": not isinstance(error, Permanent), "details": {"type": type(error).__name__}}
            end = ("fail", {"id": job.id, "token": job.token, "error": failure})
        else:
            end = ("complete", {"id": job.id, "token": job.token, "result": result})
        # Progress reported since the last heartbeat goes first, in the same write.
        before = [("heartbeat", {"id": job.id, "token": job.token, "progress": job._progress})] if job._progress_set else []
        return job, before + [end]

    def _send_ends(self) -> None:
        """Sends the ends waiting now in one write, reads their answers, repeats."""
        client = self._connect()
        try:
            done = False
            while not done:
                batch = [self._ends.get()]
                while True:
                    try:
                        batch.append(self._ends.get_nowait())
                    except queue.Empty:
                        break
                done = None in batch
                ends = [end for end in batch if end is not None]
                calls = [call for _, job_calls in ends for call in job_calls]
                try:
                    answers = client.call_many(calls)
                except DaemonUnavailable as error:
                    answers = [error] * len(calls)
                # Each job's answer is its last call's (the end).
                last = []
                position = 0
                for _, job_calls in ends:
                    position += len(job_calls)
                    last.append((job_calls[-1][0], answers[position - 1]))
                for (job, _), (method, answer) in zip(ends, last):
                    if isinstance(answer, LeaseLost):
                        log.warning("job %s: lease lost (%s), its end was not recorded", job.id, answer.data.get("state"))
                    elif isinstance(answer, JobqueueError):
                        log.error("job %s: cannot record its end (%s): %s", job.id, method, answer)
                    with self._held_lock:
                        self._held.pop(job.id, None)
                    self._free.release()
        finally:
            client.close()

    # -- heartbeats

    def _heartbeats(self) -> None:
        client = self._connect()
        try:
            while True:
                with self._held_lock:
                    held = list(self._held.values())
                if not held and self._stopping.is_set() and self._jobs.empty():
                    return
                now = time.time()
                for job in held:
                    if job.ending:
                        continue
                    if job._progress_set or now >= job.next_beat:
                        job.next_beat = now + job.lease_s / 3
                        self._beat(client, job)
                time.sleep(0.05 if held else 0.1)
        finally:
            client.close()

    def _beat(self, client: Client, job: Job) -> None:
        kwargs = {}
        if job._progress_set:
            kwargs["progress"] = job._progress
            job._progress_set = False
        try:
            answer = client.heartbeat(job.id, job.token, **kwargs)
            job.expires_at = _parse_time(answer["expires_at"])
        except LeaseLost:
            if not job.ending:  # else its end came first: nothing was lost
                log.warning("job %s: lease lost", job.id)
            with self._held_lock:
                self._held.pop(job.id, None)
        except JobqueueError as error:
            log.warning("job %s: heartbeat failed: %s", job.id, error)


def _parse_time(text: str) -> float:
    """RFC 3339 (the daemon's: `2026-12-02T10:15:30.123Z`) as a Unix time."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
