"""Fixtures: a real jobqueued in a short temp folder (a socket path must fit in 108 bytes)."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

try:
    import jobqueue
except ImportError:  # run from the source tree, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import jobqueue

REPO = Path(__file__).resolve().parents[3]
BINARY = os.environ.get("JOBQUEUED") or str(REPO / ".build" / "debug" / "jobqueued")

CONFIG = """
workers: 2
shutdown_grace: 30s
queues:
  ext: { concurrency: 300 }
handlers:
  py:
    external: true
    queue: ext
    lease: 1s
    timeout: 30s
    max_attempts: 3
    backoff: { initial: 10ms, factor: 1, max: 10ms, jitter: 0 }
  beat:                 # a lease a busy CI machine's stalls stay well inside (heartbeats every 1 s)
    external: true
    queue: ext
    lease: 3s
    timeout: 60s
    max_attempts: 3
  short:
    external: true
    queue: ext
    lease: 1s
    timeout: 2s
    max_attempts: 1
"""


def eventually(condition, timeout=30.0):
    """Polls until true; the long deadline costs time only when a test fails (CI is a busy machine)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


class Daemon:
    def __init__(self, config=CONFIG):
        self.folder = tempfile.mkdtemp(prefix="jqp-", dir="/tmp")
        self.socket = os.path.join(self.folder, "s.sock")
        self.config = os.path.join(self.folder, "jobqueued.yaml")
        self.log = os.path.join(self.folder, "daemon.log")
        with open(self.config, "w") as f:
            f.write(config)
        self.process = None
        self.start()

    def start(self):
        log = open(self.log, "a")
        self.process = subprocess.Popen([BINARY, "--config", self.config, "--db", os.path.join(self.folder, "jobs.db"),
                                         "--socket", self.socket, "--log-level", "debug"], stdout=log, stderr=log)
        def answers():
            assert self.process.poll() is None, "jobqueued exited:\n" + self.log_text()
            try:
                with jobqueue.Client(self.socket) as c:
                    c.ping()
                return "jobqueued started" in self.log_text().split("jobqueued started")[-1] or True
            except jobqueue.DaemonUnavailable:
                return False
        assert eventually(answers, 60), "jobqueued did not answer:\n" + self.log_text()

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def restart(self):
        self.kill()
        self.start()

    def client(self):
        return jobqueue.Client(self.socket, timeout=120)

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def close(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def daemon(request):
    d = Daemon()
    yield d
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        sys.stderr.write("--- jobqueued log ---\n" + d.log_text()[-20000:])
    d.close()


@pytest.fixture
def client(daemon):
    with daemon.client() as c:
        yield c


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)
