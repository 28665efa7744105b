"""A study on a real Ray cluster (two nodes on this machine, tests/ray_cluster.py, every socket on
127.0.0.1) trains the records a local run trains, bit for bit on the CPU, also when a worker or a
whole node is killed mid-unit; progress counts each epoch once; a unit lost too often stops the
study with the resume command; the driver writes the same run directory; a missing cluster or a
missing Ray is one clear paragraph."""

from __future__ import annotations

import io
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[test]' installs it")

from ray_cluster import LocalCluster, free_port, is_loopback, listening_sockets  # noqa: E402 - after the skip
from rich.console import Console  # noqa: E402

from reglab.config import parse_study  # noqa: E402
from reglab.engine.study import StudyOptions, run_study  # noqa: E402
from reglab.errors import ReglabError  # noqa: E402
from reglab.progress.events import Observers, Silent  # noqa: E402
from reglab.progress.terminal import TerminalProgress  # noqa: E402

STUDY = """
name = "cluster"
seeds = [0, 1]
[data]
dataset = "digits"
train = 600
validation = 150
test = 200
[defaults]
hidden = [48, 24]
epochs = 30
batch_size = 32
[[variants]]
name = "plain"
[[variants]]
name = "regularised"
dropout = 0.2
l2 = 0.0005
augmentation = { noise = 0.02 }
"""

# One variant with state in its checkpoint beyond the weights (dropout and augmentation streams),
# long enough that a unit is still training when the driver has its first checkpoints.
LONG_STUDY = STUDY.split("[[variants]]")[0].replace("epochs = 30", "epochs = 150") + """
[[variants]]
name = "regularised"
dropout = 0.2
l2 = 0.0005
augmentation = { noise = 0.02 }
"""


@pytest.fixture(scope="module")
def cluster():
    started = LocalCluster(cpus_per_node=1)
    try:
        yield started.start(nodes=2)
    finally:
        started.stop()  # always, and bounded: kills the nodes' own process groups


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "run"
    run_study(parse_study(STUDY), StudyOptions(out=out, checkpoint_seconds=0))
    return out


@pytest.fixture(scope="module")
def long_local_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "long"
    run_study(parse_study(LONG_STUDY), StudyOptions(out=out, checkpoint_seconds=0))
    return out


def records(run_dir: Path) -> dict[str, dict]:
    """Every run's record without wall-clock times, and its arrays, by file name."""
    found = {}
    for path in sorted((run_dir / "runs").glob("*/seed-*.json")):
        record = json.loads(path.read_text())
        record.pop("seconds")
        record.pop("sha256", None)  # the record's seal: it covers the seconds too
        for epoch in record["history"]:
            epoch.pop("seconds")
        with np.load(path.with_suffix(".npz")) as arrays:
            found[str(path.relative_to(run_dir))] = {"record": record, **{k: arrays[k].tolist() for k in arrays.files}}
    return found


def listing(run_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.name != ".writer.lock")


class Notices(Silent):
    def __init__(self):
        self.notices, self.nodes, self.epochs = [], [], []

    def notice(self, message):
        self.notices.append(message)

    def units_running(self, nodes):
        self.nodes.append(nodes)

    def epoch_finished(self, variant, record):
        self.epochs.append((variant.name, record.epoch))


def with_a_progress_bar(observer: Notices) -> tuple[Observers, TerminalProgress]:
    bar = TerminalProgress(Console(file=io.StringIO(), width=80))  # not a terminal: draws nothing, counts all the same
    return Observers(bar, observer), bar


def assert_each_epoch_counted_once(observer: Notices, bar: TerminalProgress, study: str = STUDY) -> None:
    """A retried unit reports again the epochs after its last checkpoint (or all, from its start):
    each run's epoch is told once, and the bar ends at the study's epochs, not beyond."""
    spec = parse_study(study)
    expected = sorted((v.name, epoch) for v in spec.variants for epoch in range(v.epochs) for _ in spec.seeds)
    assert sorted(observer.epochs) == expected  # each seed's epoch once, no more
    task = bar.progress.tasks[0]
    assert task.completed == task.total == len(expected)


def test_a_study_on_the_cluster_trains_the_records_a_local_run_trains(cluster, local_run, tmp_path):
    from reglab.engine.ray_executor import RayExecutor

    from reglab.progress.keras_callbacks import KerasCallbacks

    observer, epochs = Notices(), []

    class KerasStyle:  # a Keras-style callback runs in the driver: it hears every run's epochs
        def set_params(self, params):
            self.params = params

        def on_epoch_end(self, epoch, logs=None):
            epochs.append((self.params["variant"], self.params["seed"], epoch, logs["val_loss"]))

    out = tmp_path / "run"
    run_study(parse_study(STUDY), StudyOptions(out=out, checkpoint_seconds=0),
              Observers(observer, KerasCallbacks([KerasStyle()])), executor=RayExecutor(cluster.address))
    assert records(out) == records(local_run) and len(records(out)) == 4
    stored = [(r["record"]["variant"], r["record"]["seed"], e["epoch"], e["val_loss"] + e["penalty"])
              for r in records(out).values() for e in r["record"]["history"]]
    assert sorted(epochs) == sorted(stored)
    assert listing(out) == listing(local_run)  # the same files: the driver wrote them all
    # Progress saw the units in flight on both nodes of the cluster (spread over them; whether two
    # overlap in time depends on how fast each node's worker starts).
    assert len({node for nodes in observer.nodes for node in nodes}) == 2


def test_a_worker_killed_mid_unit_is_retried_from_its_checkpoint_with_identical_results(cluster, long_local_run,
                                                                                         tmp_path, fault_log):
    from reglab.engine.ray_executor import RayExecutor

    killed = []

    class KillAWorker(Notices):
        def epoch_finished(self, variant, record):
            super().epoch_finished(variant, record)
            # Once, at epoch 3 of a run: the driver has its checkpoint after epoch 3's end
            # (checkpoint_seconds=0), and the worker is a few epochs further on, far from the
            # end of LONG_STUDY's 150 (STUDY's 30 could all be sent before the driver read epoch 3).
            if not killed and record.epoch == 2:
                # Every worker training now, the one whose epoch this is among them: killing only
                # one killed the other unit at times, before the driver had its first checkpoint.
                for worker in cluster.unit_workers():
                    os.kill(worker, signal.SIGKILL)
                    killed.append(worker)

    observer = KillAWorker()
    observers, bar = with_a_progress_bar(observer)
    out = tmp_path / "run"
    run_study(parse_study(LONG_STUDY), StudyOptions(out=out, checkpoint_seconds=0), observers,
              executor=RayExecutor(cluster.address))
    assert killed, "no worker was training a unit when the test looked"
    retried = [n for n in observer.notices if "training it again from its last checkpoint" in n]
    assert retried, observer.notices
    assert records(out) == records(long_local_run) and len(records(out)) == 2
    assert not list(out.glob("runs/*/*.ckpt"))
    assert_each_epoch_counted_once(observer, bar, LONG_STUDY)
    fault_log("--backend ray: every worker training a unit killed (SIGKILL) mid-unit", len(killed),
              "each unit retried from the last checkpoint the driver had; records identical to a local run")


def test_a_node_killed_mid_unit_is_retried_on_the_others_from_the_checkpoints_with_identical_results(
        cluster, long_local_run, tmp_path, fault_log):
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from reglab.engine.ray_executor import RayExecutor

    # A node of its own, killed whole: the module's two nodes stay for the other tests. While a
    # task holds each of their CPUs, the study's first units can only start on the doomed node
    # (left to Ray, warm nodes finished the units before the new node's workers had started).
    # Runs of 150 epochs: the driver handles a unit's events a little after the worker sends
    # them, and STUDY's 30 short epochs had all been sent by the time it read the first checkpoint.
    doomed = cluster.add_node(cpus=2)
    doomed_label = f"127.0.0.1/{cluster.node_ids[doomed.pid][:4]}"  # as progress names nodes
    release = tmp_path / "release"
    out = tmp_path / "run"
    killed = []

    def hold_a_cpu(until: str) -> None:
        deadline = time.monotonic() + 300  # ends by itself, whatever happens to the test
        while not os.path.exists(until) and time.monotonic() < deadline:
            time.sleep(0.05)

    class KillANode(Notices):
        # Once the units in flight have each sent the driver a checkpoint (its file is in the run
        # directory), and every unit training on the doomed node is one of them (a task runs a
        # moment before the driver hears it started): the node's units are lost mid-run. Then
        # the other nodes' CPUs are let go, for the units to train again there.
        def units_running(self, nodes):
            super().units_running(nodes)
            self.kill_when_ready()

        def epoch_finished(self, variant, record):
            super().epoch_finished(variant, record)
            self.kill_when_ready()

        def kill_when_ready(self):
            in_flight = self.nodes[-1] if self.nodes else {}
            if (not killed and in_flight.get(doomed_label)
                    and len(list(out.glob("runs/*/*.ckpt"))) >= sum(in_flight.values())
                    and len(cluster.unit_workers(doomed)) == in_flight[doomed_label]):
                cluster.kill_node(doomed)
                killed.append(doomed.pid)
                release.touch()

    observer = KillANode()
    observers, bar = with_a_progress_bar(observer)
    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)  # the executor's too
    try:
        others = [node["NodeID"] for node in ray.nodes()
                  if node["Alive"] and node["NodeID"] != cluster.node_ids[doomed.pid]]
        holders = [ray.remote(hold_a_cpu).options(num_cpus=1, scheduling_strategy=NodeAffinitySchedulingStrategy(
            node, soft=False)).remote(str(release)) for node in others]
        while ray.available_resources().get("CPU", 0) > 2:  # the holders have their CPUs
            time.sleep(0.1)
        run_study(parse_study(LONG_STUDY), StudyOptions(out=out, checkpoint_seconds=0), observers,
                  executor=RayExecutor(cluster.address))
        ray.get(holders)
    finally:
        release.touch()
        ray.shutdown()
    assert killed, f"the doomed node never trained a unit: {observer.nodes}"
    assert {node for nodes in observer.nodes for node in nodes} - {doomed_label}, observer.nodes  # then the others
    retried = [n for n in observer.notices if "NodeDiedError" in n and "again from its last checkpoint" in n]
    assert len(retried) == 2, observer.notices  # both units of the node, each from its checkpoint
    assert records(out) == records(long_local_run) and len(records(out)) == 2
    assert listing(out) == listing(long_local_run)
    assert_each_epoch_counted_once(observer, bar, LONG_STUDY)
    fault_log("--backend ray: a whole node (its raylet, object store and workers) killed mid-unit", 1,
              "its units retried on the other nodes from their checkpoints (NodeDiedError); run directory "
              "identical to a local run's")


def test_a_unit_lost_more_often_than_allowed_stops_the_study_with_the_resume_command(cluster, tmp_path, fault_log):
    from reglab.engine.ray_executor import RayExecutor

    killed = []

    class KillTheWorkers(Notices):
        def epoch_finished(self, variant, record):
            if not killed and record.epoch == 2:  # a checkpoint is with the driver
                killed.extend(cluster.unit_workers())
                for worker in killed:
                    os.kill(worker, signal.SIGKILL)

    out = tmp_path / "run"
    with pytest.raises(ReglabError) as raised:  # one try allowed: the first loss is one too many
        run_study(parse_study(LONG_STUDY), StudyOptions(out=out, checkpoint_seconds=0), KillTheWorkers(),
                  executor=RayExecutor(cluster.address, max_attempts=1))
    message = str(raised.value)
    assert killed and "\n" not in message and raised.value.exit_code == 1
    assert "was lost 1 time on the Ray cluster, last by WorkerCrashedError" in message, message
    assert message.endswith(f"reglab resume {out} --backend ray --address {cluster.address}")
    assert list(out.glob("runs/*/*.ckpt")), "the lost unit's checkpoint was not kept"
    fault_log("--backend ray: a unit lost more often than its tries allow", 1,
              "exit 1, one line ending with the resume command; its checkpoint kept")


def test_every_socket_of_the_cluster_and_its_driver_listens_on_loopback_only(cluster):
    import ray

    def worker() -> int:
        return os.getpid()

    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    try:
        # A task on each node, so that workers (each with a server of its own) are there too.
        workers = ray.get([ray.remote(worker).options(scheduling_strategy="SPREAD").remote() for _ in range(4)])
        addresses = {node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"]}
        sockets = listening_sockets(cluster.cluster_processes() | {os.getpid()})
    finally:
        ray.shutdown()
    assert addresses == {"127.0.0.1"}  # what Ray tells the nodes and drivers to connect to
    assert any(port == cluster.port for _, _, _, port in sockets), sockets  # the GCS is among them
    assert set(workers) & {pid for pid, *_ in sockets}, sockets  # the workers' servers are among them
    assert [s for s in sockets if not is_loopback(s[2])] == []


def reglab(*args: str, python: list[str] | None = None, env: dict[str, str] | None = None,
           **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*(python or [sys.executable, "-m", "reglab"]), *args], capture_output=True, text=True,
                          env={**(env or os.environ), "COLUMNS": "80", "RAY_USAGE_STATS_ENABLED": "0"}, timeout=300,
                          **kwargs)


def test_resume_with_the_ray_backend_finishes_a_study_whose_driver_was_killed(cluster, local_run, tmp_path,
                                                                             fault_log):
    study = tmp_path / "cluster.toml"
    study.write_text(STUDY, encoding="utf-8")
    out = tmp_path / "run"
    command = [sys.executable, "-m", "reglab", "run", str(study), "--out", str(out), "--backend", "ray",
               "--address", cluster.address, "--checkpoint-seconds", "0", "--no-report", "--offline"]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    try:
        # Killed once the first run is stored, with the others in flight or checkpointed.
        while driver.poll() is None and not list(out.glob("runs/*/seed-*.json")):
            time.sleep(0.05)
    finally:
        driver.kill()
        driver.wait()
    done = reglab("resume", str(out), "--backend", "ray", "--address", cluster.address, "--no-report")
    assert done.returncode == 0, done.stderr
    assert records(out) == records(local_run)
    fault_log("--backend ray: the driver killed (SIGKILL) with units in flight", 1,
              "`reglab resume RUN_DIR --backend ray` finishes it; records identical to a local run")


def test_an_unreachable_cluster_is_one_clear_paragraph_and_exit_2(tiny_study_file, tmp_path, fault_log):
    out = tmp_path / "run"
    address = f"127.0.0.1:{free_port()}"
    done = reglab("run", str(tiny_study_file), "--backend", "ray", "--address", address,
                  "--out", str(out), "--offline")
    assert done.returncode == 2, done.stderr
    said = " ".join(done.stderr.split())
    assert f"could not connect to the cluster at {address}" in said
    # The address as the user gave it, not only as Ray rewrote it (127.0.0.1 -> the machine's own).
    assert f"nothing answers at {address}" in said, said
    assert "ray start --head" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()  # nothing written before the cluster was there
    fault_log("--backend ray with nothing answering at --address", 1,
              "exit 2, one paragraph: how to start a cluster; nothing written")


def test_a_head_on_loopback_only_with_a_driver_outside_rays_single_machine_mode_is_told_the_fix(
        tiny_study_file, tmp_path):
    from ray._raylet import node_ip_address_from_perspective

    if ipaddress.ip_address(node_ip_address_from_perspective(None)).is_loopback:
        pytest.skip("this machine has no address but loopback: Ray keeps 127.0.0.1 as it is")
    with socket.socket() as head:  # what answers on 127.0.0.1 only, as a head started in that mode
        head.bind(("127.0.0.1", 0))
        head.listen()
        address = f"127.0.0.1:{head.getsockname()[1]}"
        outside = {name: value for name, value in os.environ.items() if name != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
        done = reglab("run", str(tiny_study_file), "--backend", "ray", "--address", address,
                      "--out", str(tmp_path / "run"), "--offline", env=outside)
    assert done.returncode == 2, done.stderr  # at once: ray.init waited for ever (minutes of Ray's warnings)
    message = " ".join(done.stderr.split())
    assert f"the cluster at {address} answers on this machine's loopback only" in message, message
    assert "export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0" in message and "Traceback" not in message
    assert not (tmp_path / "run").exists()


def test_without_ray_installed_the_message_says_how_to_install_it(tiny_study_file, tmp_path):
    hide_ray = ("import sys; sys.modules['ray'] = None; from reglab.cli import main; sys.exit(main())")
    done = reglab("run", str(tiny_study_file), "--backend", "ray", "--out", str(tmp_path / "run"),
                  python=[sys.executable, "-c", hide_ray])
    assert done.returncode == 2, done.stderr
    assert "pip install 'reglab[ray]'" in " ".join(done.stderr.split()) and "Traceback" not in done.stderr
