"""A real Ray cluster on this machine, for the Ray tests (tests/test_ray.py), every socket of it on
127.0.0.1.

`ray start --head` and a second `ray start --address ...` joining it, each in a process group of
its own started with --block: stopping kills exactly those groups (`ray stop` would end every
Ray process of the machine, other sessions' included), and Ray's workers end with their raylet.
A test may add a node and kill it (add_node, kill_node). Small and quiet: one CPU per node,
100 MB object stores, no dashboard, no usage statistics, sessions under a temporary directory.

Loopback only. Ray 2.60's servers (the GCS, each raylet, each worker's and the driver's gRPC
server, the runtime-env agent, the Ray Client server) listen on 127.0.0.1 only when their node's
address is exactly "127.0.0.1"; for any other address they listen on every interface (0.0.0.0 and
::). `--node-ip-address 127.0.0.1` alone does not give that address: `ray start` and `ray.init`
replace a loopback address by the machine's own (services.resolve_ip_for_localhost), and then
every server listened on all interfaces. Measured with `ss -ltnp` on this machine with the
plain flags, a two-node cluster reported node address 192.0.2.2 and listened on:

    gcs_server       *:47259                 (the head's --port; every interface, IPv4 and IPv6)
    raylet (x2)      *:35163, *:46541, ...   (node manager and object manager ports)
    ray::RuntimeEnv  192.0.2.2:34877 (x2)    (runtime-env agents, on the node's address)
    python (client)  127.0.0.1:10001 and 192.0.2.2:10001   (Ray Client server, fixed port 10001)
    python (driver)  *:12328                 (the test driver's own gRPC server)

What keeps "127.0.0.1" (the same measurement then shows every listening socket on 127.0.0.1):
- RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 in the environment of every process (nodes, workers,
  drivers): Ray's single-machine mode, which keeps a loopback address as it is. In the tests'
  own process Ray was imported before (pytest's importorskip), so start() sets the flag it read.
- The same mode refuses to start a node that joins a head ("Multi-node Ray clusters are not
  supported on Windows and OSX"), so the nodes start through JOIN_ON_LOOPBACK: `ray start` with
  the address resolution left out and joining allowed (two Ray internals, Ray 2.60's names).
- --ray-client-server-port on a free port: the default 10001 is one fixed port for the machine.
test_ray.py checks the cluster's listening sockets (listening_sockets) are all on loopback.
"""

from __future__ import annotations

import ipaddress
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
ENVIRONMENT = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_DEDUP_LOGS": "0", "RAY_AUTH_MODE": "disabled",
               "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # loopback stays loopback (see above)
JOIN_ON_LOOPBACK = (
    "import sys; from ray._private import services, ray_constants; "
    "services.resolve_ip_for_localhost = lambda host: host; ray_constants.ENABLE_RAY_CLUSTER = True; "
    "from ray.scripts.scripts import main; sys.exit(main())")
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
        self.groups: list[subprocess.Popen] = []  # every node started, the head first
        self.killed: list[subprocess.Popen] = []
        self.env = {**os.environ, **ENVIRONMENT}

    def _ray(self, *args: str, cpus: int, log: str) -> subprocess.Popen:
        command = [sys.executable, "-c", JOIN_ON_LOOPBACK, "start", "--block", "--node-ip-address", "127.0.0.1",
                   "--num-cpus", str(cpus), "--object-store-memory", str(100 * 2**20), "--disable-usage-stats", *args]
        process = subprocess.Popen(command, env=self.env, start_new_session=True, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=open(self.temp / log, "wb"))  # noqa: SIM115
        self.groups.append(process)
        return process

    def start(self, nodes: int = 2) -> LocalCluster:
        """Start the nodes; this process (the tests' driver) takes the cluster's environment until stop()."""
        from ray._private import ray_constants

        self.saved_environment = {name: os.environ.get(name) for name in ENVIRONMENT}
        os.environ.update(ENVIRONMENT)
        self.saved_cluster_flag, ray_constants.ENABLE_RAY_CLUSTER = ray_constants.ENABLE_RAY_CLUSTER, False
        self._ray("--head", "--port", str(self.port), "--include-dashboard=false",
                  "--ray-client-server-port", str(free_port()), "--temp-dir", str(self.temp),
                  cpus=self.cpus_per_node, log="head.log")
        self._wait_for_cpus(self.cpus_per_node)
        for _ in range(1, nodes):
            self.add_node()
        return self

    def add_node(self, cpus: int | None = None) -> subprocess.Popen:
        """Start one more node joining the head; returns once the cluster counts its CPUs."""
        before = self._cpus()
        cpus = cpus or self.cpus_per_node
        node = self._ray("--address", self.address, cpus=cpus, log=f"node-{len(self.groups)}.log")
        self._wait_for_cpus(before + cpus)
        return node

    def kill_node(self, node: subprocess.Popen) -> None:
        """The machine gone at once: SIGKILL to the node's whole process group (`ray start`, its
        raylet, object store and workers), without a word to the rest of the cluster."""
        self.killed.append(node)
        os.killpg(node.pid, signal.SIGKILL)
        node.wait()

    def _cpus(self) -> float:
        import ray

        ray.init(address=self.address, logging_level="ERROR", log_to_driver=False)
        try:
            return ray.cluster_resources().get("CPU", 0)
        finally:
            ray.shutdown()

    def _wait_for_cpus(self, cpus: float) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.groups if process not in self.killed):
                raise RuntimeError(f"a Ray node did not start: {self.logs()}")
            try:
                if self._cpus() >= cpus:
                    return
            except (ConnectionError, RuntimeError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the Ray cluster did not have {cpus} CPUs within {START_TIMEOUT:.0f} s: {self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"{path.name}: {path.read_text(errors='replace')[-2000:]}" for path in self.temp.glob("*.log"))

    def _processes(self) -> dict[int, int]:
        """Every process on this machine -> its parent."""
        parents = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
        return parents

    def cluster_processes(self) -> set[int]:
        """The nodes' processes and all their descendants (workers, agents)."""
        parents = self._processes()
        found = {node.pid for node in self.groups if node not in self.killed}
        grown = True
        while grown:
            more = {pid for pid, parent in parents.items() if parent in found} - found
            found |= more
            grown = bool(more)
        return found

    def unit_workers(self, node: subprocess.Popen | None = None) -> list[int]:
        """Worker processes of this cluster (or of one node) training a unit right now (Ray names
        them after the task)."""
        found = []
        groups = {node.pid} if node is not None else {p.pid for p in self.groups}
        for pid, parent in self._processes().items():
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
                if title.startswith("ray::_train_unit_task") and os.getpgid(parent) in groups:
                    found.append(pid)
            except (OSError, ValueError):
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
        if hasattr(self, "saved_cluster_flag"):
            from ray._private import ray_constants

            ray_constants.ENABLE_RAY_CLUSTER = self.saved_cluster_flag


def listening_sockets(pids: set[int]) -> list[tuple[int, str, str, int]]:
    """(pid, protocol, address, port) of every TCP socket listening and every UDP socket bound
    by these processes, read from /proc as `ss -ltunp` shows them."""
    owners: dict[int, int] = {}  # socket inode -> pid
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    owners[int(target[8:-1])] = pid
        except OSError:
            continue  # ended meanwhile
    found = []
    for protocol, listening in (("tcp", "0A"), ("tcp6", "0A"), ("udp", "07"), ("udp6", "07")):
        for line in Path(f"/proc/net/{protocol}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state != listening or inode not in owners:
                continue
            address, port = local.split(":")
            raw = bytes.fromhex(address)
            # /proc writes each 32-bit word of the address in the machine's byte order.
            words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4)) if sys.byteorder == "little" else raw
            found.append((owners[inode], protocol, str(ipaddress.ip_address(words)), int(port, 16)))
    return found


def is_loopback(address: str) -> bool:
    parsed = ipaddress.ip_address(address)
    mapped = getattr(parsed, "ipv4_mapped", None)
    return (mapped or parsed).is_loopback
