"""The default socket path (PROTOCOL.md, Transport), chosen as jobctl does."""
from __future__ import annotations

import os
from typing import Mapping, Optional

SYSTEM_SOCKET = "/run/jobqueue/jobqueued.sock"


def default_socket_path(explicit: Optional[str] = None, environ: Optional[Mapping[str, str]] = None,
                        uid: Optional[int] = None) -> str:
    """The socket to use: `explicit` (like jobctl's --socket) wins over the
    variable `JOBQUEUE_SOCKET`; else the system service's socket for root;
    else the per-user daemon's, `$XDG_RUNTIME_DIR/jobqueue/jobqueued.sock`,
    or `/tmp/jobqueue-$UID/jobqueued.sock` when `XDG_RUNTIME_DIR` is unset."""
    env = os.environ if environ is None else environ
    if explicit:
        return explicit
    if env.get("JOBQUEUE_SOCKET"):
        return env["JOBQUEUE_SOCKET"]
    uid = os.getuid() if uid is None else uid
    if uid == 0:
        return SYSTEM_SOCKET
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime.startswith("/"):
        return os.path.join(runtime, "jobqueue", "jobqueued.sock")
    return f"/tmp/jobqueue-{uid}/jobqueued.sock"
