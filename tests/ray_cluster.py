"""A real two-node Ray cluster on this machine, for the Ray tests (tests/test_ray.py).

`ray start --head` and a second `ray start --address ...` joining it, each in a process group of
its own started with --block: stopping kills exactly those groups (`ray stop` would end every
Ray process of the machine, other sessions' included), and Ray's workers end with their raylet.
Small and quiet: one CPU per node, 100 MB object stores, no dashboard, no usage statistics,
sessions under a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Quiet, and the same whatever ~/.ray holds: Ray 2.60 turns token authentication on for a cluster
# when ~/.ray/auth_token exists (a plain `ray.init()` writes one), and a driver without the token
# cannot connect. The test cluster is private to this machine's tests.
ENVIRONMENT = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_DEDUP_LOGS": "0", "RAY_AUTH_MODE": "disabled"}
START_TIMEOUT = 120.0  # seconds; a loaded two-core machine takes about 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalCluster:
    def __init__(self, cpus_per_node: int = 1):
        self.temp = Path(tempfile.mkdtemp(prefix="rl-ray-", dir="/tmp"))  # short: Ray's socket paths have a limit
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.cpus_per_node = cpus_per_node
        self.groups: list[subprocess.Popen] = []
        self.env = {**os.environ, **ENVIRONMENT}

    def _ray(self, *args: str, log: str) -> subprocess.Popen:
        command = [str(Path(sys.executable).with_name("ray")), "start", "--block", "--node-ip-address", "127.0.0.1",
                   "--num-cpus", str(self.cpus_per_node), "--object-store-memory", str(100 * 2**20),
                   "--disable-usage-stats", *args]
        process = subprocess.Popen(command, env=self.env, start_new_session=True, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=open(self.temp / log, "wb"))  # noqa: SIM115
        self.groups.append(process)
        return process

    def start(self, nodes: int = 2) -> LocalCluster:
        """Start the nodes; this process (the tests' driver) takes the cluster's environment until stop()."""
        self.saved_environment = {name: os.environ.get(name) for name in ENVIRONMENT}
        os.environ.update(ENVIRONMENT)
        self._ray("--head", "--port", str(self.port), "--include-dashboard=false", "--temp-dir", str(self.temp),
                  log="head.log")
        self._wait_for_cpus(self.cpus_per_node)
        for number in range(1, nodes):
            self._ray("--address", self.address, log=f"node-{number}.log")
        self._wait_for_cpus(nodes * self.cpus_per_node)
        return self

    def _wait_for_cpus(self, cpus: int) -> None:
        import ray

        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.groups):
                raise RuntimeError(f"a Ray node did not start: {self.logs()}")
            try:
                ray.init(address=self.address, logging_level="ERROR", log_to_driver=False)
                try:
                    if ray.cluster_resources().get("CPU", 0) >= cpus:
                        return
                finally:
                    ray.shutdown()
            except (ConnectionError, RuntimeError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the Ray cluster did not have {cpus} CPUs within {START_TIMEOUT:.0f} s: {self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"{path.name}: {path.read_text(errors='replace')[-2000:]}" for path in self.temp.glob("*.log"))

    def unit_workers(self) -> list[int]:
        """Worker processes of this cluster training a unit right now (Ray names them after the task)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if title.startswith("ray::_train_unit_task") and os.getpgid(parent) in {p.pid for p in self.groups}:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
        return found

    def stop(self, timeout: float = 30.0) -> None:
        """Kill the nodes' process groups and wait for them: bounded, and always safe to call."""
        import ray

        if ray.is_initialized():
            ray.shutdown()
        for process in self.groups:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        for process in self.groups:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.temp, ignore_errors=True)
        for name, value in getattr(self, "saved_environment", {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
