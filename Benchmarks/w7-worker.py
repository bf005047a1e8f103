"""W7's worker process: the Python package's Worker serving no-op jobs.

    python3 w7-worker.py PACKAGE_DIR SOCKET CONCURRENCY

Runs until SIGTERM (the Worker then finishes what it holds and returns).
"""
import os
import sys

sys.path.insert(0, sys.argv[1])
import jobqueue  # noqa: E402

worker = jobqueue.Worker(sys.argv[2], concurrency=int(sys.argv[3]), max_jobs=min(100, int(sys.argv[3])),
                         name=f"w7-{os.getpid()}")
worker.register("ext", lambda job: None)
worker.run()
