#!/usr/bin/env python3
"""A complete jobqueue client in a few lines: one JSON-RPC request per line
over the Unix socket. Usage: jobqueue_client.py METHOD [PARAMS-JSON]

  jobqueue_client.py enqueue '{"handler": "echo", "payload": "hi", "wait_ms": 30000}'
"""
import json, os, socket, sys

path = os.environ.get("JOBQUEUE_SOCKET") or (
    "/run/jobqueue/jobqueued.sock" if os.getuid() == 0 else
    os.path.join(os.environ["XDG_RUNTIME_DIR"], "jobqueue/jobqueued.sock") if os.environ.get("XDG_RUNTIME_DIR")
    else f"/tmp/jobqueue-{os.getuid()}/jobqueued.sock")
request = {"jsonrpc": "2.0", "id": 1, "method": sys.argv[1]}
if len(sys.argv) > 2:
    request["params"] = json.loads(sys.argv[2])
with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
    s.connect(path)
    s.sendall((json.dumps(request) + "\n").encode())
    response = json.loads(s.makefile().readline())
if "error" in response:
    print(json.dumps(response["error"]), file=sys.stderr)
    sys.exit(1)
print(json.dumps(response["result"]))
