"""A private Redis Cluster on loopback ports: 3 masters and a replica each, for tests and benchmarks.

Six ``redis-server --cluster-enabled yes`` processes, each on a free port with its cluster bus on
another free port (``--cluster-port``, so no port + 10000 has to be free), joined by
``redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes``. ``start`` returns once
every node reports ``cluster_state:ok`` and every replica's link to its master is up, so a
failover has a synchronised replica to promote. Nothing is persisted (no RDB, no AOF): the
processes live for one test session or one benchmark run and ``stop`` kills exactly them.

``failover`` runs ``CLUSTER FAILOVER`` on a master's replica: the coordinated kind, where the
master stops taking writes, the replica catches up with everything the master acknowledged and
then takes over its slots, so no acknowledged write is lost and clients follow the MOVED replies.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from private_servers import free_port, redis_argv, wait_until

READY_TIMEOUT_S = 120.0
NODE_TIMEOUT_MS = 2_000


def _wait(what: str, ready: Callable[[], object]) -> None:
    wait_until(f"local cluster: {what}", ready, READY_TIMEOUT_S)


@dataclass
class LocalCluster:
    root: Path
    masters: int = 3
    replicas: int = 1
    ports: list[int] = field(default_factory=list)
    _procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """A master's URL (the cluster client finds the others from any node; a plain client
        given it can write there, whichever node a failover promoted)."""
        return f"redis://127.0.0.1:{self.master_ports()[0]}/0"

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)

    def start(self) -> None:
        for _ in range(self.masters * (1 + self.replicas)):
            port = free_port()
            folder = self.root / str(port)
            folder.mkdir(parents=True)
            argv = redis_argv(
                port, folder, "--cluster-port", str(free_port()), "--cluster-enabled", "yes",
                "--cluster-config-file", str(folder / "nodes.conf"),
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
            )  # fmt: skip
            self._procs[port] = subprocess.Popen(argv, start_new_session=True)
            self.ports.append(port)
        try:
            for port in self.ports:
                _wait(f"node {port} answering", lambda p=port: self.node(p).ping())
            subprocess.run(
                [shutil.which("redis-cli") or "redis-cli", "--cluster", "create"]
                + [f"127.0.0.1:{port}" for port in self.ports]
                + ["--cluster-replicas", str(self.replicas), "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=READY_TIMEOUT_S,
            )
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise

    def wait_healthy(self) -> None:
        """Every node sees the whole cluster ok, and every replica is in sync with its master."""
        for port in self.ports:
            _wait(f"cluster_state:ok on {port}", lambda p=port: self._state_ok(p))
        for port in self.ports:
            _wait(f"replica {port} in sync", lambda p=port: self._replica_synced(p))

    def _state_ok(self, port: int) -> bool:
        info = self.node(port).cluster("INFO")  # parsed by redis-py into a dict of strings
        return bool(info["cluster_state"] == "ok" and int(info["cluster_slots_ok"]) == 16384)

    def _replica_synced(self, port: int) -> bool:
        info = self.node(port).info("replication")
        return info["role"] == "master" or info.get("master_link_status") == "up"

    def master_ports(self) -> list[int]:
        return [p for p in self.ports if self.node(p).info("replication")["role"] == "master"]

    def master_of(self, key: str) -> int:
        slot = int(self.node(self.ports[0]).cluster("KEYSLOT", key))
        for start, end, master, *_ in self.node(self.ports[0]).cluster("SLOTS"):
            if start <= slot <= end:
                return int(master[1])
        raise RuntimeError(f"no master serves slot {slot}")

    def replica_of(self, master_port: int) -> int:
        info = self.node(master_port).info("replication")
        for name, value in info.items():
            if name.startswith("slave") and isinstance(value, dict):
                return int(value["port"])
        raise RuntimeError(f"master {master_port} has no replica")

    def failover(self, master_port: int) -> int:
        """Promote ``master_port``'s replica with a coordinated CLUSTER FAILOVER; its port."""
        replica = self.replica_of(master_port)
        self.node(replica).execute_command("CLUSTER", "FAILOVER")
        _wait(
            f"replica {replica} promoted", lambda: self.node(replica).info("replication")["role"] == "master"
        )
        for port in self.ports:  # every node's slot map names the new master, none the old one
            _wait(
                f"node {port} seeing {replica} as master",
                lambda p=port: self._masters_seen(p) == set(self.master_ports()),
            )
        self.wait_healthy()
        return replica

    def _masters_seen(self, port: int) -> set[int]:
        return {int(master[1]) for _, _, master, *_ in self.node(port).cluster("SLOTS")}

    def flush(self) -> None:
        """Empty every master (each asked directly, so a slot map that is a moment old cannot
        send a FLUSHDB to a node that just became a replica)."""
        for port in self.master_ports():
            self.node(port).flushdb()

    def stop(self) -> None:
        for proc in self._procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        for proc in self._procs.values():
            proc.wait(timeout=30)
        self._procs.clear()
