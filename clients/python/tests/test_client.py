"""Client: every method of the protocol against the real daemon, and its errors."""
import threading

import pytest

import jobqueue
from jobqueue.paths import default_socket_path

from conftest import Daemon, eventually


def test_every_method_round_trips(client):
    ping = client.ping()
    assert ping["protocol"] == 1 and "workers" in ping["features"]
    queued = client.enqueue("echo", {"k": 1}, tags=["a"], priority=3)
    assert queued["state"] == "queued" and queued["duplicate"] is False
    done = client.wait(queued["id"], timeout_ms=60000)
    assert done["state"] == "succeeded" and done["result"] == {"k": 1} and done["tags"] == ["a"]
    assert client.get(queued["id"]) == done
    waited = client.enqueue("noop", wait_ms=60000)
    assert waited["state"] == "succeeded" and waited["duplicate"] is False
    batch = client.enqueue_batch([{"handler": "noop", "delay_ms": 60000}, {"handler": "noop", "unique_key": "u", "delay_ms": 60000}])
    assert len(batch["ids"]) == 2 and batch["duplicates"] == [False, False]
    again = client.enqueue("noop", unique_key="u")
    assert again["duplicate"] is True and again["id"] == batch["ids"][1]
    assert client.cancel(batch["ids"][0])["state"] == "cancelled"
    assert client.retry(batch["ids"][0])["state"] == "queued"
    assert client.pause("q") == {"queue": "q", "paused": True}
    assert client.resume("q") == {"queue": "q", "paused": False}
    assert client.stats()["workers"]["total"] == 2
    page = client.list(limit=2)
    assert len(page["jobs"]) == 2 and page["next_after_id"] == page["jobs"][1]["id"]
    assert client.workers() == []


def test_schedules_are_listed_paused_resumed_and_triggered():
    d = Daemon(config="schedules:\n  nightly:\n    cron: \"15 3 * * *\"\n    timezone: UTC\n    handler: echo\n"
                      "    payload: {\"kind\": \"daily\"}\n")
    try:
        with d.client() as client:
            assert "schedules" in client.ping()["features"]
            [entry] = client.schedules()
            assert entry["name"] == "nightly" and entry["cron"] == "15 3 * * *" and entry["next_run_at"].endswith("03:15:00.000Z")
            assert client.pause_schedule("nightly")["paused"] is True
            assert client.resume_schedule("nightly")["paused"] is False
            job = client.wait(client.trigger_schedule("nightly"), timeout_ms=60000)
            assert job["schedule"] == "nightly" and job["result"] == {"kind": "daily"}
            with pytest.raises(jobqueue.UnknownSchedule) as e:
                client.trigger_schedule("nope")
            assert e.value.code == 1008
    finally:
        d.close()


def test_dependencies_and_keys(client):
    assert {"dependencies", "limits"} <= set(client.ping()["features"])
    first = client.enqueue("sleep", {"ms": 200})["id"]
    second = client.enqueue("echo", {"n": 2}, after=[first], concurrency_key="k")
    assert second["state"] == "blocked"
    job = client.wait(second["id"], timeout_ms=60000)
    assert job["state"] == "succeeded" and job["after"] == [first] and job["concurrency_key"] == "k"
    dag = client.enqueue_batch([{"handler": "noop"}, {"handler": "echo", "payload": 1, "after_index": [0]}])
    assert client.wait(dag["ids"][1], timeout_ms=60000)["state"] == "succeeded"
    with pytest.raises(jobqueue.NotFound) as e:
        client.enqueue("noop", after=[999999])
    assert e.value.data["field"] == "after"


def test_errors_are_typed_with_their_codes(client):
    with pytest.raises(jobqueue.NotFound) as e:
        client.get(999999)
    assert e.value.code == 1001
    with pytest.raises(jobqueue.InvalidParams) as e:
        client.enqueue("noop", priority=5000)
    assert e.value.code == -32602 and e.value.data["field"] == "priority"
    with pytest.raises(jobqueue.UnknownHandler):
        client.enqueue("no-such-handler")
    with pytest.raises(jobqueue.UnknownHandler):
        client.reserve(["echo"])  # not an external handler
    with pytest.raises(jobqueue.MethodNotFound):
        client.call("frobnicate")
    done = client.enqueue("noop", wait_ms=60000)
    with pytest.raises(jobqueue.InvalidState) as e:
        client.cancel(done["id"])
    assert e.value.data["state"] == "succeeded"
    assert isinstance(e.value, jobqueue.JobqueueError)


def test_a_stale_token_is_lease_lost_and_changes_nothing(client):
    id = client.enqueue("py", {"n": 1})["id"]
    [job] = client.reserve(["py"], wait_ms=30000)
    before = client.get(id)
    with pytest.raises(jobqueue.LeaseLost) as e:
        client.complete(id, "not-the-token", {"x": 1})
    assert e.value.code == 1007 and e.value.data["state"] == "running" and e.value.data["id"] == id
    assert client.get(id) == before
    client.complete(id, job["lease"]["token"], "ok")
    with pytest.raises(jobqueue.LeaseLost) as e:
        client.fail(id, job["lease"]["token"], "late")
    assert e.value.data["state"] == "succeeded" and client.get(id)["result"] == "ok"


def test_a_long_poll_is_woken_by_an_enqueue(daemon, client):
    got = []
    def reserve():
        with daemon.client() as c:
            got.extend(c.reserve(["py"], wait_ms=60000))
    waiter = threading.Thread(target=reserve)
    waiter.start()
    assert eventually(lambda: len(client.workers()) == 1)
    id = client.enqueue("py")["id"]
    waiter.join(60)
    assert [j["id"] for j in got] == [id]
    assert client.reserve(["py"], wait_ms=0) == []


def test_lease_heartbeat_progress_and_expiry(client):
    id = client.enqueue("py")["id"]
    [job] = client.reserve(["py"], worker="me", wait_ms=30000)
    token = job["lease"]["token"]
    beat = client.heartbeat(id, token, progress={"pct": 40})
    assert beat["cancel_requested"] is False
    seen = client.get(id)
    assert seen["progress"] == {"pct": 40} and seen["lease"]["worker"] == "me" and "token" not in seen["lease"]
    # No more heartbeats: within a second of the 1 s lease the attempt fails and is retried.
    assert eventually(lambda: client.get(id)["state"] != "running")
    assert client.get(id)["error"]["message"] == "lease expired"
    with pytest.raises(jobqueue.LeaseLost):
        client.heartbeat(id, token)
    [again] = client.reserve(["py"], wait_ms=30000)
    assert again["id"] == id and again["attempts"] == 2 and again["lease"]["token"] != token


def test_a_heartbeat_never_extends_past_the_timeout(client):
    id = client.enqueue("short")["id"]
    [job] = client.reserve(["short"], wait_ms=30000)
    answer = client.heartbeat(id, job["lease"]["token"], lease_ms=3600000)
    from jobqueue.worker import _parse_time
    assert round((_parse_time(answer["expires_at"]) - _parse_time(job["started_at"])) * 1000) == 2000
    assert eventually(lambda: client.get(id)["state"] == "failed")
    assert client.get(id)["error"]["message"] == "timed out after 2000 ms"


def test_cancel_of_a_reserved_job_is_lease_lost_cancelled(client):
    id = client.enqueue("py")["id"]
    [job] = client.reserve(["py"], wait_ms=30000)
    client.cancel(id)
    with pytest.raises(jobqueue.LeaseLost) as e:
        client.heartbeat(id, job["lease"]["token"])
    assert e.value.data["state"] == "cancelled"


def test_two_hundred_waiting_clients_each_get_one_job(daemon, client):
    got = []
    lock = threading.Lock()
    def reserve():
        with daemon.client() as c:
            jobs = c.reserve(["py"], wait_ms=60000)
            with lock:
                got.append([j["id"] for j in jobs])
    threads = [threading.Thread(target=reserve) for _ in range(200)]
    for t in threads:
        t.start()
    assert eventually(lambda: len(client.workers()) == 200, 60)
    ids = client.enqueue_batch([{"handler": "py"} for _ in range(200)])["ids"]
    for t in threads:
        t.join(60)
    assert all(len(g) == 1 for g in got) and sorted(i for g in got for i in g) == sorted(ids)


def test_default_socket_path_rules(monkeypatch):
    assert default_socket_path("/x.sock", environ={"JOBQUEUE_SOCKET": "/y.sock"}) == "/x.sock"
    assert default_socket_path(environ={"JOBQUEUE_SOCKET": "/y.sock"}, uid=1000) == "/y.sock"
    assert default_socket_path(environ={}, uid=0) == "/run/jobqueue/jobqueued.sock"
    assert default_socket_path(environ={"XDG_RUNTIME_DIR": "/run/user/1000"}, uid=1000) == "/run/user/1000/jobqueue/jobqueued.sock"
    assert default_socket_path(environ={}, uid=1000) == "/tmp/jobqueue-1000/jobqueued.sock"
    monkeypatch.setenv("JOBQUEUE_SOCKET", "/z.sock")
    assert jobqueue.Client().socket_path == "/z.sock"
    with pytest.raises(jobqueue.DaemonUnavailable):
        jobqueue.Client("/tmp/no-such-jobqueue.sock").ping()


def fake_daemon(path, behaviour):
    """A Unix socket that serves `behaviour(connection_number, request_line)`:
    the answer to send, or None to close without answering. Returns the
    requests it read."""
    import json as _json
    import socket as _socket
    seen = []
    server = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    def serve():
        for number in range(2):
            connection, _ = server.accept()
            reader = connection.makefile("rb")
            while True:
                line = reader.readline()
                if not line:
                    break
                seen.append((number, _json.loads(line)["method"]))
                answer = behaviour(number, _json.loads(line))
                if answer is None:
                    break
                connection.sendall((_json.dumps(answer) + "\n").encode())
            reader.close()
            connection.close()
    threading.Thread(target=serve, daemon=True).start()
    return seen


def test_a_request_whose_connection_closes_is_never_sent_again():
    path = tempfile_path()
    seen = fake_daemon(path, lambda number, request: None)  # reads the request, closes: did it run? unknowable
    with pytest.raises(jobqueue.DaemonUnavailable):
        jobqueue.Client(path).enqueue("noop")
    assert seen == [(0, "enqueue")]


def test_a_connection_closed_while_idle_is_replaced_before_the_next_request():
    path = tempfile_path()
    # The first connection answers one ping, then the daemon closes it (idle_timeout).
    def behaviour(number, request):
        return {"jsonrpc": "2.0", "id": request["id"], "result": {"connection": number}} if number == 0 else \
            {"jsonrpc": "2.0", "id": request["id"], "result": {"connection": number}}
    seen = fake_daemon(path, behaviour)
    client = jobqueue.Client(path)
    assert client.ping() == {"connection": 0}
    client._sock.shutdown(__import__("socket").SHUT_WR)  # ends the fake's first connection from our side
    assert eventually(lambda: client._closed_by_peer())
    assert client.ping() == {"connection": 1}
    assert seen == [(0, "ping"), (1, "ping")]


def tempfile_path():
    import os as _os
    import tempfile as _tempfile
    return _os.path.join(_tempfile.mkdtemp(prefix="jqf-", dir="/tmp"), "s.sock")
