"""Worker: functions by handler name, threads, heartbeats, failures, SIGTERM, crashes."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import jobqueue

from conftest import eventually

PACKAGE = str(Path(jobqueue.__file__).resolve().parents[1])


def start_worker_thread(worker):
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return thread


def test_runs_functions_stores_results_and_fails_attempts(daemon, client):
    worker = jobqueue.Worker(daemon.socket, concurrency=4, name="pyw")
    @worker.handler("py")
    def double(job):
        if job.payload == "boom":
            raise ValueError("boom")
        if job.payload == "never":
            raise jobqueue.Permanent("cannot ever work")
        job.progress({"seen": job.payload})
        return job.payload * 2
    ids = [client.enqueue("py", n)["id"] for n in range(10)]
    boom = client.enqueue("py", "boom")["id"]
    never = client.enqueue("py", "never")["id"]
    thread = start_worker_thread(worker)
    for n, id in enumerate(ids):
        job = client.wait(id, timeout_ms=60000)
        assert job["state"] == "succeeded" and job["result"] == n * 2 and job["attempts"] == 1
    failed = client.wait(boom, timeout_ms=60000)
    assert failed["state"] == "failed" and failed["attempts"] == 3  # max_attempts: retried, then failed
    assert [e["message"] for e in failed["errors"]] == ["boom"] * 3 and failed["error"]["details"] == {"type": "ValueError"}
    permanent = client.wait(never, timeout_ms=60000)
    assert permanent["state"] == "failed" and permanent["attempts"] == 1 and permanent["error"]["message"] == "cannot ever work"
    worker.stop()
    thread.join(60)
    assert not thread.is_alive()


def test_concurrency_runs_that_many_at_once_with_heartbeats(daemon, client):
    worker = jobqueue.Worker(daemon.socket, concurrency=4)
    running = []
    peak = []
    lock = threading.Lock()
    @worker.handler("beat")
    def slow(job):
        with lock:
            running.append(job.id)
            peak.append(len(running))
        time.sleep(4)  # longer than the 3 s lease: only heartbeats keep it
        with lock:
            running.remove(job.id)
        return "done"
    ids = [client.enqueue("beat")["id"] for _ in range(8)]
    thread = start_worker_thread(worker)
    for id in ids:
        job = client.wait(id, timeout_ms=60000)
        assert job["state"] == "succeeded" and job["attempts"] == 1 and job["errors"] == []
    assert max(peak) == 4
    worker.stop()
    thread.join(60)


WORKER_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import jobqueue
    worker = jobqueue.Worker(sys.argv[2], concurrency=1, name="child")
    @worker.handler("py")
    def slow(job):
        open(sys.argv[3], "a").write(f"{job.id}\\n")
        time.sleep(float(job.payload))
        return "finished"
    worker.run()
""")


def start_worker_process(daemon):
    started = os.path.join(daemon.folder, "started")
    process = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, PACKAGE, daemon.socket, started])
    return process, started


def lines(path):
    return open(path).read().split() if os.path.exists(path) else []


def test_sigterm_finishes_the_current_job_and_stops_reserving(daemon, client):
    first = client.enqueue("py", 1.5)["id"]
    process, started = start_worker_process(daemon)
    assert eventually(lambda: lines(started) == [str(first)])
    second = client.enqueue("py", 0)["id"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    job = client.get(first)
    assert job["state"] == "succeeded" and job["result"] == "finished"
    assert client.get(second)["state"] == "queued"  # not reserved after the SIGTERM


def test_a_worker_killed_mid_job_loses_it_after_the_lease(daemon, client):
    id = client.enqueue("py", 30)["id"]
    process, started = start_worker_process(daemon)
    assert eventually(lambda: lines(started) == [str(id)])
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert eventually(lambda: (client.get(id)["error"] or {}).get("message") == "lease expired")
    worker = jobqueue.Worker(daemon.socket, handlers={"py": lambda job: "second try"})
    thread = start_worker_thread(worker)
    job = client.wait(id, timeout_ms=60000)
    assert job["state"] == "succeeded" and job["attempts"] == 2 and job["result"] == "second try"
    worker.stop()
    thread.join(60)


def test_leases_survive_a_daemon_kill(daemon):
    with daemon.client() as c:
        id = c.enqueue("py", {"n": 1}, timeout_ms=60000)["id"]
        [job] = c.reserve(["py"], lease_ms=60000, wait_ms=30000)
    daemon.restart()  # kill -9, then start again on the same database
    with daemon.client() as c:
        assert c.get(id)["state"] == "running"  # not counted as interrupted
        done = c.complete(id, job["lease"]["token"], {"after": "restart"})
        assert done["state"] == "succeeded" and done["attempts"] == 1 and done["errors"] == []


def test_progress_reported_just_before_the_end_is_stored(daemon, client):
    worker = jobqueue.Worker(daemon.socket)
    @worker.handler("py")
    def report(job):
        job.progress({"final": True})
        return "ok"
    id = client.enqueue("py")["id"]
    thread = start_worker_thread(worker)
    job = client.wait(id, timeout_ms=60000)
    assert job["state"] == "succeeded" and job["progress"] == {"final": True}
    worker.stop()
    thread.join(60)
