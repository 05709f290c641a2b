"""A private ``redis-server`` dies with the process that started it, however that process died.

The memory bench's server outlived the bench when the bench was killed, and the test session's
Redis Cluster (``tests/cluster_session``, six servers) outlived a run killed before its finalizer:
both start their servers through ``redis_argv``. Here a child process starts one and is killed
with ``SIGKILL`` (no ``finally``, no ``atexit``); the server must be gone within the deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DEADLINE_S = 30.0
BENCH = Path(__file__).resolve().parents[2] / "bench"
CHILD = """
import subprocess, sys
import redis
from private_servers import free_port, redis_argv, wait_until
port = free_port()
server = subprocess.Popen(redis_argv(port, __import__("pathlib").Path(sys.argv[1])), start_new_session=True)
wait_until("the server answering", redis.Redis(port=port).ping, 30)
print(server.pid, flush=True)
sys.stdin.read()
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by init, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_private_redis_server_dies_with_its_parent(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(BENCH)}
    argv = [sys.executable, "-c", CHILD, str(tmp_path)]
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env) as child:
        assert child.stdout is not None
        server = int(child.stdout.readline())
        try:
            assert _alive(server)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=DEADLINE_S)
            deadline = time.monotonic() + DEADLINE_S
            while _alive(server):
                if time.monotonic() > deadline:
                    pytest.fail(f"redis-server {server} outlived the process that started it")
                time.sleep(0.05)
        finally:
            if _alive(server):
                os.kill(server, signal.SIGKILL)
