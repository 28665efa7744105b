"""The Ray node the driver runs on loses its raylet mid-study (issue 24, fault 5): Ray would end
the driver a minute later with its own log only (or a LocalRayletDiedError traceback); reglab says
that nothing was lost and how to resume, with exit 1, soon after the raylet is gone.

A cluster of its own (one node: its raylet is the driver's), so that the other Ray tests keep
theirs; slow, like the other tests that start a cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[test]' installs it")

from ray_cluster import ENVIRONMENT, LocalCluster  # noqa: E402 - after the skip

STUDY = """
name = "raylet"
seeds = [0, 1]
[data]
dataset = "digits"
train = 400
validation = 100
test = 100
[defaults]
hidden = [16]
epochs = 300
batch_size = 32
[[variants]]
name = "a"
"""


def raylets(cluster: LocalCluster) -> list[int]:
    found = []
    for pid in cluster.cluster_processes():
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"raylet"):
                found.append(pid)
        except OSError:
            continue
    return found


@pytest.mark.slow
def test_the_drivers_raylet_killed_gives_reglabs_line_and_exit_1(tmp_path, fault_log):
    study = tmp_path / "raylet.toml"
    study.write_text(STUDY, encoding="utf-8")
    cluster = LocalCluster(cpus_per_node=1)
    try:
        cluster.start(nodes=1)
        env = {**os.environ, **ENVIRONMENT, "COLUMNS": "80"}
        out = tmp_path / "run"
        driver = subprocess.Popen([sys.executable, "-m", "reglab", "run", str(study), "--backend", "ray", "--address",
                                   cluster.address, "--out", str(out), "--no-report"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and not cluster.unit_workers() and driver.poll() is None:
                time.sleep(0.2)
            assert cluster.unit_workers(), "no unit started on the cluster"
            for pid in raylets(cluster):
                os.kill(pid, signal.SIGKILL)
            _, err = driver.communicate(timeout=300)
        finally:
            if driver.poll() is None:
                driver.kill()
                driver.communicate()
    finally:
        cluster.stop()
    assert driver.returncode == 1, err[-3000:]
    assert "Nothing was lost" in err and f"reglab resume {out} --backend ray --address {cluster.address}" in err
    assert "Traceback" not in err
    assert (out / "study.json").is_file()  # the run directory is there to resume
    fault_log("--backend ray: the raylet of the driver's own node killed (SIGKILL) mid-study", 1,
              "exit 1: nothing was lost, with the resume command (not Ray's log alone, nor a traceback)")

