#!/usr/bin/env python3
"""Peer benchmark: the same workloads against jobqueued, beanstalkd and
gearmand, in one run, with one Python client style, so that the ratios
between them are same-run figures.

    peers.py [--jobqueued PATH] [--quick] [--only W1,W2,W3,W4,W5,batch]
             [--systems jobqueued,beanstalkd-f0,beanstalkd-f50,gearmand]
             [--preload LIB] [--runs N]

Systems:
  jobqueued       JSON-RPC over a Unix socket; every enqueue is committed to
                  SQLite before the answer (durable).
  beanstalkd-f0   binlog, fsync after every write (durable).
  beanstalkd-f50  binlog, fsync at most every 50 ms (the default): an
                  acknowledged job can be lost in a crash.
  gearmand        in memory, no persistence: every queued job is lost in a crash.

Every server is started by this script, in a fresh folder under $TMPDIR (or
/tmp), gets a fresh folder for every workload and run, and is stopped (and
its folder removed) afterwards, also on errors. --preload puts LD_PRELOAD=LIB
into every server's environment (e.g. Benchmarks/slow-flush/slowflush.so;
SLOW_FLUSH_US passes through). Clients never get it.

The protocol clients below are written for this script and are small:
JSON lines for jobqueued, the beanstalkd text protocol, the gearman binary
protocol. Python standard library only.
"""

import argparse
import json
import multiprocessing
import os
import platform
import queue
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

PAYLOAD = {"path": "/srv/images/2026/11/29/a-photo-of-a-cat.png", "size": 256, "format": "webp", "q": 80}
CLIENTS = 16        # W2
WORKERS = 4         # W3, W5 (and jobqueued's config)
BATCH = 1000        # jobs per enqueue_batch (and per pipelined chunk of peer puts)
IO_TIMEOUT = 120.0  # seconds any single socket read may block
SIZES = {
    "full": {"W1": 5000, "W2": 50_000, "W3": 50_000, "W4": 2000, "W5": 500, "batch": 50},
    "quick": {"W1": 300, "W2": 1600, "W3": 2000, "W4": 200, "W5": 50, "batch": 5},
}
WORKLOADS = ["W1", "W2", "W3", "W4", "W5", "batch"]
SYSTEMS = ["jobqueued", "beanstalkd-f0", "beanstalkd-f50", "gearmand"]
JOBQUEUED_CONFIG = """\
workers: 4
queues:
  default: { concurrency: 4 }
handlers:
  exec: { builtin: exec }
limits:
  max_connections: 4096
"""


def now():
    # CLOCK_MONOTONIC on Linux: comparable between the processes of one run.
    return time.perf_counter()


def percentile(values, p):
    """Nearest rank, as the Swift load generator does."""
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


def payload_bytes():
    return json.dumps(PAYLOAD, separators=(",", ":")).encode()


# --------------------------------------------------------------------------
# A stream socket with a read buffer.

class Conn:
    def __init__(self, sock):
        sock.settimeout(IO_TIMEOUT)
        self.sock = sock
        self.buf = bytearray()

    @classmethod
    def unix(cls, path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(IO_TIMEOUT)
        s.connect(path)
        return cls(s)

    @classmethod
    def tcp(cls, port):
        s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        # Small request/answer exchanges: do not let Nagle hold them back.
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(s)

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buf += chunk

    def readline(self, sep=b"\n"):
        start = 0
        while True:
            i = self.buf.find(sep, start)
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + len(sep)]
                return line
            start = max(0, len(self.buf) - len(sep) + 1)
            self._fill()

    def readexact(self, n):
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def close(self):
        self.sock.close()


# --------------------------------------------------------------------------
# jobqueued: JSON-RPC 2.0, one JSON value per line, over a Unix socket.

class JobQueued:
    def __init__(self, path):
        self.c = Conn.unix(path)
        self.last_id = 0

    def call(self, method, params=None):
        self.last_id += 1
        request = {"jsonrpc": "2.0", "id": self.last_id, "method": method}
        if params is not None:
            request["params"] = params
        self.c.send(json.dumps(request, separators=(",", ":")).encode() + b"\n")
        # One request in flight at a time, so the next line is its answer.
        response = json.loads(self.c.readline())
        if response.get("id") != self.last_id:
            raise RuntimeError(f"{method}: answer for id {response.get('id')!r}, expected {self.last_id}")
        if "error" in response:
            raise RuntimeError(f"{method}: {response['error']}")
        return response["result"]

    def default_queue(self):
        return self.call("stats")["queues"]["default"]


# --------------------------------------------------------------------------
# beanstalkd: text protocol, "\r\n"-terminated command lines; a job body
# follows its "put" line (and a "RESERVED id bytes" answer) as exactly
# `bytes` bytes plus "\r\n".

class Beanstalk:
    def __init__(self, port):
        self.c = Conn.tcp(port)

    def expect(self, prefix):
        line = self.c.readline(b"\r\n")
        if not line.startswith(prefix):
            raise RuntimeError(f"beanstalkd: expected {prefix!r}, got {line!r}")
        return line

    def command(self, line, prefix):
        self.c.send(line + b"\r\n")
        return self.expect(prefix)

    def use(self, tube):        # the tube that "put" writes to
        self.command(b"use " + tube, b"USING ")

    def watch_only(self, tube):  # the tubes "reserve" reads from: just this one
        self.command(b"watch " + tube, b"WATCHING ")
        if tube != b"default":
            self.command(b"ignore default", b"WATCHING ")

    @staticmethod
    def put_line(body, ttr=60):
        # put <priority> <delay s> <time-to-run s> <bytes>
        return b"put 0 0 %d %d\r\n%s\r\n" % (ttr, len(body), body)

    def read_inserted(self):
        return int(self.expect(b"INSERTED ")[9:])

    def put(self, body):
        self.c.send(self.put_line(body))
        return self.read_inserted()

    def put_many(self, bodies):
        """Pipelined: all puts in one write, then all answers."""
        self.c.send(b"".join(self.put_line(b) for b in bodies))
        for _ in bodies:
            self.read_inserted()

    def read_reserved(self):
        """The answer to reserve / reserve-with-timeout: (id, body), or None
        for TIMED_OUT (no ready job in the watched tubes)."""
        line = self.c.readline(b"\r\n")
        if line == b"TIMED_OUT":
            return None
        parts = line.split()
        if parts[0] != b"RESERVED":
            raise RuntimeError(f"beanstalkd: expected RESERVED, got {line!r}")
        body = self.c.readexact(int(parts[2]) + 2)[:-2]
        return int(parts[1]), body

    def delete(self, job_id):
        self.command(b"delete %d" % job_id, b"DELETED")


# --------------------------------------------------------------------------
# gearmand: binary protocol. A packet is a 4-byte magic ("\0REQ" from
# clients and workers, "\0RES" from the server), a 4-byte big-endian type,
# a 4-byte big-endian length, then the arguments separated by NUL bytes.

CAN_DO, PRE_SLEEP, NOOP, SUBMIT_JOB, JOB_CREATED = 1, 4, 6, 7, 8
GRAB_JOB, NO_JOB, JOB_ASSIGN, WORK_COMPLETE, SUBMIT_JOB_BG, ERROR = 9, 10, 11, 13, 18, 19
FUNCTION = b"noop"


def gearman_packet(kind, *args):
    data = b"\0".join(args)
    return b"\0REQ" + struct.pack(">II", kind, len(data)) + data


class Gearman:
    def __init__(self, port):
        self.c = Conn.tcp(port)
        # gearmand merges jobs with the same function and unique id, so every
        # job gets its own unique id.
        self.prefix = b"%d." % os.getpid()
        self.count = 0

    def send(self, *packets):
        self.c.send(b"".join(packets))

    def receive(self):
        magic, kind, size = struct.unpack(">4sII", self.c.readexact(12))
        data = self.c.readexact(size)
        if magic != b"\0RES":
            raise RuntimeError(f"gearmand: bad magic {magic!r}")
        if kind == ERROR:
            raise RuntimeError(f"gearmand: ERROR {data!r}")
        return kind, data

    def expect(self, kind):
        got, data = self.receive()
        if got != kind:
            raise RuntimeError(f"gearmand: expected packet {kind}, got {got} {data!r}")
        return data

    def submit_packet(self, kind, body):
        self.count += 1
        return gearman_packet(kind, FUNCTION, self.prefix + b"%d" % self.count, body)

    def submit_background(self, body):
        self.send(self.submit_packet(SUBMIT_JOB_BG, body))
        return self.expect(JOB_CREATED)

    def submit_background_many(self, bodies):
        self.send(*(self.submit_packet(SUBMIT_JOB_BG, b) for b in bodies))
        for _ in bodies:
            self.expect(JOB_CREATED)


# --------------------------------------------------------------------------
# Servers: started by us, in their own folder, always stopped.

LIVE_SERVERS = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process in a fresh folder under `root`."""

    def __init__(self, name, root, preload):
        self.name = name
        self.folder = tempfile.mkdtemp(prefix=name[:2], dir=root)
        self.preload = preload
        self.proc = None
        self.log = None

    def spawn(self, argv):
        env = dict(os.environ)
        if self.preload:
            env["LD_PRELOAD"] = self.preload
        self.log = open(os.path.join(self.folder, "server.log"), "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, cwd=self.folder)
        LIVE_SERVERS.append(self)

    def wait_until(self, ready, what):
        deadline = now() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start (status {self.proc.returncode}): {self.log_tail()}")
            try:
                ready()
                break
            except OSError:
                pass
            if now() > deadline:
                raise RuntimeError(f"{self.name}: {what} not ready after 30 s: {self.log_tail()}")
            time.sleep(0.005)
        if self.preload:
            # Make sure the shim really is in the server.
            with open(f"/proc/{self.proc.pid}/maps") as f:
                if os.path.basename(self.preload) not in f.read():
                    raise RuntimeError(f"{self.name}: {self.preload} is not loaded")

    def log_tail(self):
        try:
            with open(os.path.join(self.folder, "server.log"), "rb") as f:
                return f.read()[-2000:].decode(errors="replace").strip() or "(no output)"
        except OSError:
            return "(no log)"

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                print(f"peers: {self.name} ignored SIGTERM for 15 s; killing it", file=sys.stderr)
                self.proc.kill()
                self.proc.wait()
        if self in LIVE_SERVERS:
            LIVE_SERVERS.remove(self)
        if self.log:
            self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def stop_all_servers():
    for server in list(LIVE_SERVERS):
        server.stop()


# --------------------------------------------------------------------------
# Worker and client processes (multiprocessing, fork): each gets its
# connection ready, then waits at a barrier with the parent; the parent
# notes the start time when the barrier opens. A child's result is a dict
# with at least "end" (its now() at the end of its work).

def _child_main(target, args, barrier, results):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        results.put(("ok", target(barrier, *args)))
    except BaseException:
        barrier.abort()
        results.put(("error", traceback.format_exc()))


class Processes:
    """Child processes running target(barrier, *args) for each args tuple."""

    def __init__(self, target, args_list):
        ctx = multiprocessing.get_context("fork")
        self.barrier = ctx.Barrier(len(args_list) + 1)
        self.results = ctx.Queue()
        self.procs = [ctx.Process(target=_child_main, args=(target, args, self.barrier, self.results), daemon=True)
                      for args in args_list]
        for p in self.procs:
            p.start()

    def go(self):
        """Waits until every child is ready; returns the start time."""
        try:
            self.barrier.wait(timeout=60)
        except threading.BrokenBarrierError:
            self._raise_child_error("a child process failed before it was ready")
        return now()

    def _raise_child_error(self, what):
        try:
            status, value = self.results.get(timeout=5)
            if status == "error":
                raise RuntimeError(f"{what}:\n{value}")
        except queue.Empty:
            pass
        raise RuntimeError(what)

    def collect(self, timeout=900):
        """Every child's result; fails if one fails, dies or overruns."""
        out = []
        deadline = now() + timeout
        while len(out) < len(self.procs):
            try:
                status, value = self.results.get(timeout=1)
            except queue.Empty:
                if now() > deadline:
                    raise RuntimeError(f"child processes still running after {timeout} s")
                if not any(p.is_alive() for p in self.procs):
                    raise RuntimeError("a child process died without a result")
                continue
            if status != "ok":
                raise RuntimeError("a child process failed:\n" + value)
            out.append(value)
        return out

    def close(self):
        for p in self.procs:
            if p.is_alive():
                p.terminate()
        for p in self.procs:
            p.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run_true():
    """One /bin/true: posix_spawn + waitpid, the cheapest way from Python."""
    pid = os.posix_spawn("/bin/true", ["/bin/true"], os.environ)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise RuntimeError(f"/bin/true: wait status {status}")


# --- jobqueued children

def jq_enqueuer(barrier, sock, n):
    c = JobQueued(sock)
    c.call("ping")
    barrier.wait()
    for _ in range(n):
        c.call("enqueue", {"handler": "noop", "payload": PAYLOAD})
    return {"end": now(), "count": n}


# --- beanstalkd children

def bs_putter(barrier, port, n):
    b = Beanstalk(port)
    b.use(b"jobs")
    barrier.wait()
    for _ in range(n):
        b.put(payload_bytes())
    return {"end": now(), "count": n}


def bs_drainer(barrier, port, spawn):
    """Reserves and deletes until no job is ready (all were put before)."""
    b = Beanstalk(port)
    b.watch_only(b"jobs")
    barrier.wait()
    done = 0
    b.c.send(b"reserve-with-timeout 0\r\n")
    while True:
        job = b.read_reserved()
        if job is None:
            break
        json.loads(job[1])
        if spawn:
            run_true()
        # Pipelined: the delete (the ack) and the next reserve in one write.
        b.c.send(b"delete %d\r\nreserve-with-timeout 0\r\n" % job[0])
        b.expect(b"DELETED")
        done += 1
    return {"end": now(), "count": done}


def bs_replier(barrier, port):
    """W4's worker: for each job from "jobs", puts a reply into the tube the
    job names, then deletes the job (reply first: a worker that dies between
    the two leaves the job to be retried, never a client without answer)."""
    b = Beanstalk(port)
    b.watch_only(b"jobs")
    barrier.wait()
    using = b"default"
    b.c.send(b"reserve\r\n")
    while True:
        job_id, body = b.read_reserved()
        reply_tube = json.loads(body)["reply"].encode()
        out = []
        if reply_tube != using:
            out.append(b"use " + reply_tube + b"\r\n")
        out.append(Beanstalk.put_line(b'{"ok":true}'))
        out.append(b"delete %d\r\nreserve\r\n" % job_id)
        b.c.send(b"".join(out))
        if reply_tube != using:
            b.expect(b"USING ")
            using = reply_tube
        b.read_inserted()
        b.expect(b"DELETED")


# --- gearmand children

def gm_submitter(barrier, port, n):
    g = Gearman(port)
    barrier.wait()
    for _ in range(n):
        g.submit_background(payload_bytes())
    return {"end": now(), "count": n}


def gm_drainer(barrier, port, spawn):
    """Grabs and completes until the server has no job (all were submitted before)."""
    g = Gearman(port)
    g.send(gearman_packet(CAN_DO, FUNCTION))  # CAN_DO has no answer
    barrier.wait()
    done = 0
    g.send(gearman_packet(GRAB_JOB))
    while True:
        kind, data = g.receive()
        if kind == NOOP:        # a wake-up; harmless here
            continue
        if kind == NO_JOB:
            break
        if kind != JOB_ASSIGN:
            raise RuntimeError(f"gearmand: unexpected packet {kind}")
        handle, _function, body = data.split(b"\0", 2)
        json.loads(body)
        if spawn:
            run_true()
        # Pipelined: WORK_COMPLETE (no answer to the worker) and the next GRAB_JOB.
        g.send(gearman_packet(WORK_COMPLETE, handle, b""), gearman_packet(GRAB_JOB))
        done += 1
    return {"end": now(), "count": done}


def gm_worker(barrier, port):
    """W4's worker, the usual gearman worker loop: GRAB_JOB; on NO_JOB tell the
    server PRE_SLEEP and wait for its NOOP wake-up, then GRAB_JOB again."""
    g = Gearman(port)
    g.send(gearman_packet(CAN_DO, FUNCTION))
    barrier.wait()
    g.send(gearman_packet(GRAB_JOB))
    while True:
        kind, data = g.receive()
        if kind == NO_JOB:
            g.send(gearman_packet(PRE_SLEEP))
        elif kind == NOOP:
            g.send(gearman_packet(GRAB_JOB))
        elif kind == JOB_ASSIGN:
            handle, _function, body = data.split(b"\0", 2)
            json.loads(body)
            g.send(gearman_packet(WORK_COMPLETE, handle, b""), gearman_packet(GRAB_JOB))
        else:
            raise RuntimeError(f"gearmand: unexpected packet {kind}")


# --------------------------------------------------------------------------
# Shared measurement shapes.

def sequential_latencies(n, one):
    """Runs one() n times; returns (jobs/s, latencies in µs)."""
    latencies = []
    t0 = now()
    for _ in range(n):
        t = now()
        one()
        latencies.append((now() - t) * 1e6)
    return n / (now() - t0), latencies


def parallel_clients(total, target, args):
    """W2: CLIENTS processes, total/CLIENTS sequential calls each."""
    per = total // CLIENTS
    with Processes(target, [args + (per,)] * CLIENTS) as procs:
        t0 = procs.go()
        results = procs.collect()
    assert sum(r["count"] for r in results) == per * CLIENTS
    return per * CLIENTS / (max(r["end"] for r in results) - t0)


def parallel_drain(n, target, args):
    """W3/W5 for the peers: WORKERS processes drain n pre-enqueued jobs."""
    with Processes(target, [args] * WORKERS) as procs:
        t0 = procs.go()
        results = procs.collect()
    done = sum(r["count"] for r in results)
    if done != n:
        raise RuntimeError(f"drained {done} jobs, expected {n}")
    return n / (max(r["end"] for r in results) - t0)


def latency_figures(prefix, latencies):
    return {prefix + " p50": percentile(latencies, 0.5), prefix + " p99": percentile(latencies, 0.99)}


# --------------------------------------------------------------------------
# The systems. Each instance is one server in one fresh folder; each
# workload method returns {row key: value}.

class JobQueuedSystem(Server):
    def __init__(self, name, root, preload, binary):
        super().__init__(name, root, preload)
        self.sock = os.path.join(self.folder, "s.sock")
        config = os.path.join(self.folder, "config.yaml")
        with open(config, "w") as f:
            f.write(JOBQUEUED_CONFIG)
        self.spawn([binary, "--config", config, "--db", os.path.join(self.folder, "jobs.db"),
                    "--socket", self.sock, "--log-level", "warning"])
        self.wait_until(lambda: JobQueued(self.sock).call("ping"), "socket")
        self.client = JobQueued(self.sock)

    def version(self):
        return self.client.call("ping").get("version", "?")

    def W1(self, n):
        # The daemon's 4 workers run the noop jobs meanwhile.
        def one():
            self.client.call("enqueue", {"handler": "noop", "payload": PAYLOAD})
        rate, latencies = sequential_latencies(n, one)
        return {"W1": rate, **latency_figures("W1", latencies)}

    def W2(self, total):
        return {"W2": parallel_clients(total, jq_enqueuer, (self.sock,))}

    def drain(self, n, job):
        """Paused queue, batches of pre-enqueued jobs, resume, poll stats."""
        c = self.client
        c.call("pause", {"queue": "default"})
        for start in range(0, n, BATCH):
            count = min(BATCH, n - start)
            ids = c.call("enqueue_batch", {"jobs": [job] * count})["ids"]
            assert len(ids) == count
        t0 = now()
        c.call("resume", {"queue": "default"})
        while True:
            q = c.default_queue()
            if q["succeeded"] + q["failed"] >= n:
                break
            time.sleep(0.002)
        elapsed = now() - t0
        if q["failed"]:
            raise RuntimeError(f"{q['failed']} jobs failed")
        return n / elapsed

    def W3(self, n):
        return {"W3": self.drain(n, {"handler": "noop", "payload": PAYLOAD})}

    def W4(self, n):
        def one():
            job = self.client.call("enqueue", {"handler": "noop", "payload": PAYLOAD, "wait_ms": 60000})
            if job["state"] != "succeeded":
                raise RuntimeError(f"submit-and-wait ended {job['state']}")
        _, latencies = sequential_latencies(n, one)
        return latency_figures("W4", latencies)

    def W5(self, n):
        return {"W5": self.drain(n, {"handler": "exec", "payload": {"argv": ["/bin/true"]}})}

    def batch(self, batches):
        job = {"handler": "noop", "payload": PAYLOAD}
        t0 = now()
        for _ in range(batches):
            assert len(self.client.call("enqueue_batch", {"jobs": [job] * BATCH})["ids"]) == BATCH
        return {"batch": batches * BATCH / (now() - t0)}


class BeanstalkSystem(Server):
    def __init__(self, name, root, preload, fsync_ms):
        super().__init__(name, root, preload)
        self.port = free_port()
        binlog = os.path.join(self.folder, "binlog")
        os.mkdir(binlog)
        self.spawn(["beanstalkd", "-l", "127.0.0.1", "-p", str(self.port), "-b", binlog, "-f", str(fsync_ms)])
        self.wait_until(lambda: Beanstalk(self.port).c.close(), "port")
        self.client = Beanstalk(self.port)

    def W1(self, n):
        # Enqueue only: no worker takes the jobs.
        self.client.use(b"jobs")
        rate, latencies = sequential_latencies(n, lambda: self.client.put(payload_bytes()))
        return {"W1": rate, **latency_figures("W1", latencies)}

    def W2(self, total):
        return {"W2": parallel_clients(total, bs_putter, (self.port,))}

    def preload_jobs(self, n):
        self.client.use(b"jobs")
        for start in range(0, n, BATCH):
            self.client.put_many([payload_bytes() for _ in range(min(BATCH, n - start))])

    def W3(self, n):
        self.preload_jobs(n)
        return {"W3": parallel_drain(n, bs_drainer, (self.port, False))}

    def W4(self, n):
        # Client: puts into "jobs" (the body names its reply tube) and reserves
        # the reply from its own tube; both commands in one write, so one
        # round trip. Its delete of the reply is outside the timed part.
        reply_tube = b"reply.%d" % os.getpid()
        c = self.client
        c.use(b"jobs")
        c.watch_only(reply_tube)
        body = dict(PAYLOAD, reply=reply_tube.decode())
        with Processes(bs_replier, [(self.port,)]) as worker:
            worker.go()
            latencies = []
            for _ in range(n):
                t = now()
                c.c.send(Beanstalk.put_line(json.dumps(body, separators=(",", ":")).encode()) + b"reserve\r\n")
                c.read_inserted()
                reply_id, _ = c.read_reserved()
                latencies.append((now() - t) * 1e6)
                c.delete(reply_id)
        return latency_figures("W4", latencies)

    def W5(self, n):
        self.preload_jobs(n)
        return {"W5": parallel_drain(n, bs_drainer, (self.port, True))}


class GearmanSystem(Server):
    def __init__(self, name, root, preload):
        super().__init__(name, root, preload)
        self.port = free_port()
        # In memory (the default builtin queue, no persistence). gearmand's
        # default log and pid file paths are under /var; keep them here.
        self.spawn(["gearmand", "--listen", "127.0.0.1", "--port", str(self.port),
                    "--log-file", os.path.join(self.folder, "gearmand.log"),
                    "--pid-file", os.path.join(self.folder, "gearmand.pid")])
        self.wait_until(lambda: Gearman(self.port).c.close(), "port")
        self.client = Gearman(self.port)

    def W1(self, n):
        # Enqueue only (SUBMIT_JOB_BG): no worker takes the jobs.
        rate, latencies = sequential_latencies(n, lambda: self.client.submit_background(payload_bytes()))
        return {"W1": rate, **latency_figures("W1", latencies)}

    def W2(self, total):
        return {"W2": parallel_clients(total, gm_submitter, (self.port,))}

    def preload_jobs(self, n):
        for start in range(0, n, BATCH):
            self.client.submit_background_many([payload_bytes() for _ in range(min(BATCH, n - start))])

    def W3(self, n):
        self.preload_jobs(n)
        return {"W3": parallel_drain(n, gm_drainer, (self.port, False))}

    def W4(self, n):
        # SUBMIT_JOB (foreground): the server answers JOB_CREATED, then
        # WORK_COMPLETE once the worker has done the job.
        g = self.client
        with Processes(gm_worker, [(self.port,)]) as worker:
            worker.go()

            def one():
                g.send(g.submit_packet(SUBMIT_JOB, payload_bytes()))
                g.expect(JOB_CREATED)
                g.expect(WORK_COMPLETE)
            _, latencies = sequential_latencies(n, one)
        return latency_figures("W4", latencies)

    def W5(self, n):
        self.preload_jobs(n)
        return {"W5": parallel_drain(n, gm_drainer, (self.port, True))}


def start_system(name, root, args):
    if name == "jobqueued":
        return JobQueuedSystem(name, root, args.preload, args.jobqueued)
    if name == "beanstalkd-f0":
        return BeanstalkSystem(name, root, args.preload, 0)
    if name == "beanstalkd-f50":
        return BeanstalkSystem(name, root, args.preload, 50)
    if name == "gearmand":
        return GearmanSystem(name, root, args.preload)
    raise ValueError(name)


# --------------------------------------------------------------------------
# The machine, and the disk's flush floor.

def fsync_floor(folder, samples=200):
    """Median µs of os.write + os.fdatasync of 100 bytes, in `folder`."""
    path = os.path.join(folder, "fsync-floor")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        times = []
        for _ in range(samples):
            t = now()
            os.write(fd, b"x" * 100)
            os.fdatasync(fd)
            times.append((now() - t) * 1e6)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(times)


def fsync_floor_preloaded(folder, preload):
    """The same floor in a child process with the preload library."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--fsync-floor", folder],
                         env=dict(os.environ, LD_PRELOAD=preload), capture_output=True, text=True, check=True)
    return float(out.stdout)


def command_output(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def print_machine(root, args, systems):
    fs = " ".join(command_output(["findmnt", "-no", "FSTYPE,SOURCE", "-T", root]).split())
    print(f"machine: {len(os.sched_getaffinity(0))} cores, kernel {platform.release()}, temp folder {root} on {fs}"
          f", load average {os.getloadavg()[0]:.2f}")
    floor = f"fsync floor: {fsync_floor(root):.0f} µs (median of 200 os.write+os.fdatasync of 100 bytes, same folder)"
    if args.preload:
        floor += f"; with the preload library: {fsync_floor_preloaded(root, args.preload):.0f} µs"
    print(floor)
    if args.preload:
        print(f"preload: LD_PRELOAD={args.preload} in every server"
              + (f", SLOW_FLUSH_US={os.environ['SLOW_FLUSH_US']}" if "SLOW_FLUSH_US" in os.environ else ""))
    versions = []
    if "jobqueued" in systems:
        versions.append(f"jobqueued {args.jobqueued}")
    if any(s.startswith("beanstalkd") for s in systems):
        versions.append(command_output(["beanstalkd", "-v"]))
    if "gearmand" in systems:
        versions.append(command_output(["gearmand", "--version"]).split(" - ")[0])
    print("versions: " + "; ".join(versions) + f"; Python {platform.python_version()}")


# --------------------------------------------------------------------------
# The table.

def row_specs(sizes):
    n = sizes
    return [
        ("W1", "rate", f"W1 {n['W1']:,} enqueues, 1 client, jobs/s"),
        ("W1 p50", "latency", "W1 enqueue latency p50, µs"),
        ("W1 p99", "latency", "W1 enqueue latency p99, µs"),
        ("W2", "rate", f"W2 {n['W2']:,} enqueues, {CLIENTS} clients, jobs/s"),
        ("W3", "rate", f"W3 drain {n['W3']:,} no-op, {WORKERS} workers, jobs/s"),
        ("W4 p50", "latency", f"W4 submit-and-wait ({n['W4']:,}) p50, µs"),
        ("W4 p99", "latency", "W4 submit-and-wait p99, µs"),
        ("W5", "rate", f"W5 {n['W5']:,} x /bin/true, {WORKERS} workers, jobs/s"),
        ("batch", "rate", f"enqueue_batch {BATCH:,} x {n['batch']}, jobs/s"),
    ]


SHORT = {"jobqueued": "jq", "beanstalkd-f0": "bs-f0", "beanstalkd-f50": "bs-f50", "gearmand": "gm"}


def print_table(sizes, systems, cells, runs):
    specs = [s for s in row_specs(sizes) if any(s[0] in c for c in cells.values())]
    peers = [s for s in systems if s != "jobqueued"] if "jobqueued" in systems else []
    header = ["workload"] + systems + ["jq/" + SHORT[p] for p in peers]
    rows = []
    for key, _kind, label in specs:
        values = {}
        row = [label]
        for system in systems:
            samples = cells.get(system, {}).get(key)
            if samples is None:
                row.append("N/A")
            elif samples == "ERR":
                row.append("ERR")
            else:
                values[system] = statistics.median(samples)
                row.append(f"{values[system]:,.0f}")
        for peer in peers:
            if "jobqueued" in values and peer in values and values[peer] > 0:
                row.append(f"{values['jobqueued'] / values[peer]:.2f}")
            else:
                row.append("")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(widths[0]) if i == 0 else h.rjust(widths[i]) for i, h in enumerate(r))
             for r in [header] + rows]
    print(f"\nmedian of {runs} run{'s' if runs != 1 else ''}")
    print("\n".join(lines))
    if peers:
        print("\njq/X: jobqueued's figure divided by X's (" + ", ".join(f"{SHORT[p]} = {p}" for p in peers) + ").")
        print("  jobs/s rows: above 1 means jobqueued is faster; µs rows: below 1 means jobqueued is faster.")
    print("""Durability: jobqueued and beanstalkd-f0 answer an enqueue only after it is
  on disk; beanstalkd-f50 fsyncs at most every 50 ms (a crash can lose the
  last acknowledged jobs); gearmand keeps jobs in memory only.
W1, W2: jobqueued's 4 workers run the noop jobs meanwhile; the peers only
  enqueue, no workers.
W3, W5: jobs enqueued before the timed part. jobqueued: queue paused,
  enqueue_batch, resume, timed until stats shows all succeeded. Peers: 4
  worker processes (reserve+delete / GRAB_JOB+WORK_COMPLETE, the ack and the
  next fetch pipelined in one write), timed until the last ack; W5 peers run
  /bin/true with posix_spawn+waitpid per job.
W4: sequential. jobqueued: enqueue with wait_ms. beanstalkd: put to "jobs" and
  reserve of the reply from the client's own tube in one write (the reply's
  delete untimed), one worker process (reply put, job delete, next reserve in
  one write). gearmand: SUBMIT_JOB until WORK_COMPLETE, one worker process.""")


# --------------------------------------------------------------------------

def parse_args():
    here = os.path.dirname(os.path.abspath(__file__))
    default_binary = os.path.join(os.path.dirname(os.path.dirname(here)), ".build", "release", "jobqueued")
    p = argparse.ArgumentParser(description="jobqueued against beanstalkd and gearmand, same workloads, one run.")
    p.add_argument("--jobqueued", default=default_binary, help="the daemon binary (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="every workload small: a functional check only")
    p.add_argument("--only", default=",".join(WORKLOADS), help="workloads, comma-separated (default: all)")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="systems, comma-separated (default: all)")
    p.add_argument("--preload", help="an LD_PRELOAD library for every server process (e.g. the slow-flush shim)")
    p.add_argument("--runs", type=int, default=1, help="median of N runs (default 1)")
    p.add_argument("--fsync-floor", metavar="DIR", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.only = [w.strip() for w in args.only.split(",") if w.strip()]
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for w in args.only:
        if w not in WORKLOADS:
            p.error(f"unknown workload {w!r} (known: {', '.join(WORKLOADS)})")
    for s in args.systems:
        if s not in SYSTEMS:
            p.error(f"unknown system {s!r} (known: {', '.join(SYSTEMS)})")
    if args.runs < 1:
        p.error("--runs must be at least 1")
    if args.preload:
        args.preload = os.path.abspath(args.preload)
        if not os.path.exists(args.preload):
            p.error(f"no such preload library: {args.preload}")
    if "jobqueued" in args.systems:
        args.jobqueued = os.path.abspath(args.jobqueued)
        if not os.access(args.jobqueued, os.X_OK):
            p.error(f"no jobqueued binary at {args.jobqueued} (give --jobqueued PATH)")
    return args


def main():
    args = parse_args()
    if args.fsync_floor:
        print(f"{fsync_floor(args.fsync_floor):.1f}")
        return 0
    # SIGTERM (and SIGHUP) unwind like Ctrl-C, so that the servers are stopped.
    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    sizes = SIZES["quick" if args.quick else "full"]
    root = tempfile.mkdtemp(prefix="pq", dir=os.environ.get("TMPDIR", "/tmp"))
    cells = {s: {} for s in args.systems}   # system -> row key -> [samples] or "ERR"
    errors = []
    started = now()
    try:
        print(f"peer benchmark{' (quick)' if args.quick else ''}: {', '.join(args.systems)}; "
              f"workloads {', '.join(args.only)}")
        print_machine(root, args, args.systems)
        sys.stdout.flush()
        for workload in args.only:
            for run in range(args.runs):
                for system in args.systems:
                    if workload == "batch" and system != "jobqueued":
                        continue  # N/A: no batch enqueue in the peers' protocols
                    t = now()
                    server = None
                    try:
                        server = start_system(system, root, args)
                        figures = getattr(server, workload)(sizes[workload])
                        for key, value in figures.items():
                            if cells[system].get(key) != "ERR":
                                cells[system].setdefault(key, []).append(value)
                        status = ", ".join(f"{k} {v:,.0f}" for k, v in figures.items())
                    except KeyboardInterrupt:
                        raise
                    except Exception as e:
                        for key, *_ in row_specs(sizes):
                            if key.split()[0] == workload:
                                cells[system][key] = "ERR"
                        errors.append(f"{workload} {system} run {run + 1}: {e}")
                        status = f"ERROR: {e}"
                    finally:
                        if server is not None:
                            server.stop()
                    print(f"  {workload} {system} run {run + 1}/{args.runs}: {status} ({now() - t:.1f} s)",
                          file=sys.stderr, flush=True)
        print_table(sizes, args.systems, cells, args.runs)
        print(f"\ntotal {now() - started:.0f} s; load average at the end {os.getloadavg()[0]:.2f}")
        for e in errors:
            print("error: " + e)
        return 1 if errors else 0
    except KeyboardInterrupt as e:
        print(f"peers: interrupted ({e}); stopping the servers", file=sys.stderr)
        return 130
    finally:
        stop_all_servers()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
