"""A study's units of work on a Ray cluster: Ray core (remote tasks and ray.wait), not Ray Tune.

The study, its seeds, its store and its statistics stay reglab's; Ray only places units (a run,
or a stack of runs) on the cluster's CPUs and GPUs. Each unit is one Ray task with the resources
it needs: `threads_per_worker` CPUs (one, on the CPU, as locally), and on GPUs a fraction of one
sized from the unit (gpu_share). Many tiny tasks are Ray's known anti-pattern, so a task is never
smaller than a run.

What crosses the network: the study's data once (ray.put: each node fetches it once), a unit's
description and, on a retry, its last checkpoint, to the worker; its events back to the driver
as the task yields them (started on which node, each epoch's record with the checkpoint saved at
its end if one was, as bytes; the finished runs' records and arrays). The driver (this process)
writes the run store exactly as the local executor does, so workers need no shared file system
and the run directory is the same whichever backend trained it.

Faults: a worker process or a node that dies mid-unit ends its task with a Ray system error; the
driver submits the unit again, from the last checkpoint it received (checkpoints are files in
the run directory, so a resumed study starts from them too), up to MAX_ATTEMPTS tries in all,
then stops the study with UnitLost and the resume command. Ray's own task retries are off: they
would start the unit over without the checkpoint.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import queue
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch

from reglab.engine.checkpoint import Checkpointer
from reglab.engine.reference import DeviceData
from reglab.engine.scheduler import Interrupted, Schedule, StudyDriver, Unit, train_unit, unit_checkpointer
from reglab.errors import ReglabError
from reglab.engine.startup import import_dynamo

MAX_ATTEMPTS = 3  # tries of one unit when its worker or node dies
GPU_SHARE_STEP = 1 / 16  # fractions of a GPU are multiples of this

NOT_INSTALLED = (
    "--backend ray needs Ray, which is not installed in this Python environment. Fix: "
    "pip install 'reglab[ray]' (the same Ray version on every machine of the cluster, and reglab "
    "installed on each), then start a cluster (`ray start --head` on one machine, `ray start "
    "--address HEAD:6379` on the others) and run again; see docs/cluster.md."
)


def _unreachable(address: str, error: BaseException) -> str:
    where = "a running cluster (address auto)" if address == "auto" else f"the cluster at {address}"
    return (
        f"--backend ray could not connect to {where}: {str(error).strip().splitlines()[0]} "
        "Fix: start a cluster first: on the head machine `ray start --head --port 6379`, on each other "
        "machine `ray start --address HEAD_IP:6379`; then pass --address HEAD_IP:6379 (or --address auto "
        "on a machine of the cluster). `ray status` shows the cluster's nodes; see docs/cluster.md. "
        "Without a cluster, leave --backend out to train on this machine."
    )


def _loopback_only(address: str, resolved: str) -> str:
    return (f"--backend ray: the cluster at {address} answers on this machine's loopback only, but Ray "
            f"connects to {resolved}: it replaces a loopback address by the machine's own, except in its "
            "single-machine mode, which the cluster was started in. Fix: export "
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 in this shell too (as where `ray start` ran), then run "
            "again; see docs/cluster.md.")


def _no_answer(address: str) -> str | None:
    """Why nothing answers at HOST:PORT ("Connection refused"), or None when something does."""
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as error:
        return str(error.strerror or error)
    return None


def _check_reachable(address: str) -> None:
    """Fails at once, with the fix, where ray.init would wait for ever: nothing answers where Ray
    will connect."""
    if address != "auto":
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ReglabError(f"--address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379) or auto.")
    try:
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError:  # a later Ray: let ray.init find it
        return
    try:
        # Where ray.init connects: for "auto", RAY_ADDRESS or the cluster `ray start` last started on
        # this machine; a loopback host becomes this machine's address (see _loopback_only).
        resolved = canonicalize_bootstrap_address(address)
    except (ConnectionError, ValueError) as error:
        raise ReglabError(_unreachable(address, error)) from None
    if resolved is None:
        raise ReglabError(_unreachable(address, ConnectionError("no running cluster was found.")))
    why = _no_answer(resolved)
    if why is None:
        return
    if resolved != address and address != "auto" and _no_answer(address) is None:
        raise ReglabError(_loopback_only(address, resolved))
    # The address the user gave first: Ray's rewriting of a loopback host (127.0.0.1 -> this
    # machine's own address) is said after it, not instead of it.
    if address == "auto":
        where = f"{resolved}, the cluster found for auto ({why})"
    elif resolved != address:
        where = f"{address} (Ray connects to it as {resolved}: {why})"
    else:
        where = f"{address} ({why})"
    raise ReglabError(_unreachable(address, ConnectionError(f"nothing answers at {where}.")))


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ReglabError(NOT_INSTALLED) from None
    return ray


class RayExecutor:
    """Trains units as Ray tasks on the cluster at `address` ("auto": the one this machine belongs
    to, or HOST:PORT of its head). Connects when made, so that a missing cluster is said before any
    run directory is created."""

    def __init__(self, address: str | None = None, max_attempts: int = MAX_ATTEMPTS):
        self.ray = import_ray()
        self.address = address or "auto"
        self.max_attempts = max_attempts
        self._connected_here = False
        self._device = torch.device("cpu")
        if not self.ray.is_initialized():
            _check_reachable(self.address)  # ray.init waits for ever on an address where nothing listens
            try:
                self.ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False,
                              namespace="reglab")
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as error:
                raise ReglabError(_unreachable(self.address, error)) from None
            self._connected_here = True

    def close(self) -> None:
        """Disconnect from the cluster (which keeps running) if this executor connected."""
        if self._connected_here and self.ray.is_initialized():
            self.ray.shutdown()
        self._connected_here = False

    # ------------------------------------------------------------------ what the study plans with

    def resources(self) -> dict[str, float]:
        return self.ray.cluster_resources()

    def device(self, requested: str) -> torch.device:
        gpus = self.resources().get("GPU", 0)
        if requested not in ("auto", "cpu", "cuda"):
            raise ReglabError(f"--device {requested!r} is not known: use auto, cpu or cuda.")
        if requested == "cuda" and not gpus:
            raise ReglabError(f"--device cuda was asked for, but the Ray cluster at {self.address} has no GPUs "
                              "(`ray status` lists its resources). Fix: --device cpu, or start the workers "
                              "on GPU machines (`ray start --num-gpus N ...`).")
        self._device = torch.device("cuda" if requested == "cuda" or (requested == "auto" and gpus) else "cpu")
        return self._device

    def cores(self) -> int:
        return max(1, int(self.resources().get("CPU", 1)))

    def data_device(self, device: torch.device) -> torch.device:
        return torch.device("cpu")  # sent to the workers, which move it to their own device

    # ------------------------------------------------------------------ training

    def run(self, schedule: Schedule, data: DeviceData, driver: StudyDriver, cancel: threading.Event) -> None:
        ray = self.ray
        task = ray.remote(_train_unit_task)
        lost_work = _retryable(ray)
        threads = schedule.threads_per_worker or 1
        units = list(schedule.units)
        gpu_bytes = 0
        if self._device.type == "cuda":
            units = split_for_gpus(units, int(self.resources().get("GPU", 1)))
            gpu_bytes = ray.get(ray.remote(_gpu_memory).options(num_gpus=1, num_cpus=0).remote())
        data_ref = ray.put(data)  # once: each node fetches it once, whatever the number of tasks
        flying: dict[Any, _Attempt] = {}

        def submit(unit: Unit, attempt: int) -> None:
            checkpoint = unit_checkpointer(unit, driver.store, driver.checkpoint_seconds, threading.Event())
            generator = task.options(**task_options(unit, data, threads, gpu_bytes)).remote(
                unit, data_ref, str(self._device), threads, driver.checkpoint_seconds,
                checkpoint.read_bytes() if checkpoint is not None else None)
            flying[generator] = _Attempt(unit, attempt, checkpoint)

        def show_nodes() -> None:
            driver.units_running(dict(Counter(a.node for a in flying.values() if a.node is not None)))

        lost: ClusterLost | None = None
        checked = time.monotonic()
        try:
            for unit in units:
                submit(unit, 1)
            while flying:
                if cancel.is_set():
                    raise Interrupted  # the checkpoints received so far are in the run directory
                ready, _ = ray.wait(list(flying), num_returns=1, timeout=0.2)
                if not ready and time.monotonic() - checked > 1.0:
                    checked = time.monotonic()
                    if not _local_node_alive(ray):  # Ray would end this process in a minute, without a word
                        raise ClusterLost("the raylet of the Ray node this process runs on is gone",
                                          driver.store.root, self.address)
                for generator in ready:
                    attempt = flying[generator]
                    try:
                        kind, *payload = ray.get(next(generator))
                    except StopIteration:  # ended without its runs: cannot happen unless Ray lost them
                        del flying[generator]
                        self._retry(attempt, "its task ended without results", driver, submit)
                        continue
                    except ray.exceptions.RayTaskError as error:
                        raise _failure(error, attempt.node) from None
                    except lost_work as error:
                        del flying[generator]
                        if not _local_node_alive(ray):
                            raise ClusterLost(f"{type(error).__name__}: the raylet of the Ray node this process "
                                              "runs on is gone", driver.store.root, self.address) from None
                        self._retry(attempt, f"{type(error).__name__} on {attempt.node or 'a node'}", driver, submit)
                        show_nodes()
                        continue
                    if kind == "started":
                        attempt.node = payload[0]
                        driver.unit_started(attempt.unit)
                        show_nodes()
                    elif kind == "epoch":
                        position, record, checkpoint = payload
                        if checkpoint is not None:  # first: a retry starts from it
                            attempt.checkpoint.write_bytes(checkpoint)
                        driver.epoch_finished(attempt.unit, position, record)
                    elif kind == "finished":
                        del flying[generator]
                        driver.unit_finished(attempt.unit, payload[0])
                        show_nodes()
        except ClusterLost as error:
            lost = error
            raise
        except ray.exceptions.RayError as error:  # the cluster's side failed under this driver (not a unit)
            lost = ClusterLost(f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}",
                               driver.store.root, self.address)
            raise lost from None
        finally:
            if lost is None:
                for generator in flying:  # stopped or failed: nothing else may train for this study
                    ray.cancel(generator, force=True)
                self.close()
            else:  # nothing to cancel through, and Ray's shutdown would wait for the dead node
                self._connected_here = False

    def _retry(self, attempt: _Attempt, why: str, driver: StudyDriver, submit) -> None:
        names = ", ".join(f"{variant.name} seed {seed}" for _, variant, seed in attempt.unit.members[:3])
        if attempt.attempt >= self.max_attempts:
            raise UnitLost(names, attempt.attempt, why, driver.store.root, self.address)
        resumable = attempt.checkpoint is not None and attempt.checkpoint.path.is_file()
        restart = "from its last checkpoint" if resumable else "from its start"
        driver.observer.notice(f"{names}: {why}; training it again {restart} (try {attempt.attempt + 1} "
                               f"of {self.max_attempts})")
        submit(attempt.unit, attempt.attempt + 1)


class UnitLost(ReglabError):
    """A unit whose tries all ended with its worker or node: the cluster's problem, not the study's."""

    exit_code = 1

    def __init__(self, names: str, tries: int, why: str, run_dir: Path, address: str):
        where = "" if address == "auto" else f" --address {address}"
        super().__init__(f"a unit of work ({names}) was lost {tries} time{'s' if tries != 1 else ''} on the Ray "
                         f"cluster, last by {why}; its last checkpoint and the finished runs are kept in {run_dir}. "
                         f"Fix: check the cluster's nodes (`ray status`, their memory and logs), then resume "
                         f"with: reglab resume {run_dir} --backend ray{where}")


class ClusterLost(ReglabError):
    """The Ray node this driver runs on (its raylet) or the cluster's head is gone: this process
    cannot go on, but every finished run and checkpoint received is in the run directory."""

    exit_code = 1

    def __init__(self, why: str, run_dir: Path, address: str):
        where = "" if address == "auto" else f" --address {address}"
        super().__init__(f"the Ray cluster stopped under this process ({why}). Nothing was lost: the finished "
                         f"runs and the checkpoints received are in {run_dir}. Fix: restart the cluster "
                         f"(`ray start ...`, `ray status` to check), then resume with: reglab resume {run_dir} "
                         f"--backend ray{where}")


def _local_node_alive(ray) -> bool:
    """Whether the raylet of the node this driver is connected through still answers on its socket.
    True when that cannot be told (another Ray's internals)."""
    try:
        path = ray._private.worker.global_worker.node.raylet_socket_name
    except AttributeError:
        return True
    if not isinstance(path, str) or not path or path.startswith("tcp://"):
        return True
    try:
        with socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(5)
            probe.connect(path)
        return True
    except OSError:
        return False


@dataclass
class _Attempt:
    unit: Unit
    attempt: int
    checkpoint: Checkpointer | None  # where the driver keeps the unit's checkpoint (the run directory)
    node: str | None = None  # where it trains, once it has started


def _retryable(ray) -> tuple[type[BaseException], ...]:
    """Ray's errors for work lost with its process or machine, not raised by the unit's own code."""
    errors = ray.exceptions  # ObjectLostError covers OwnerDiedError and a lost object's other endings
    return (errors.WorkerCrashedError, errors.NodeDiedError, errors.ObjectLostError, errors.OutOfMemoryError,
            errors.RaySystemError)


def _failure(error, node: str | None) -> BaseException:
    """The unit's own exception, raised in its task, as this process's: a ReglabError keeps its
    message and exit code (a configuration problem is the user's to fix, not a crash)."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, ReglabError):
        rebuilt = ReglabError(str(cause))
        rebuilt.exit_code = cause.exit_code
        return rebuilt
    return RuntimeError(f"a training task failed on the Ray cluster ({node or 'a node'}):\n{error}")


# ---------------------------------------------------------------------- on the workers


class _SentCheckpointer(Checkpointer):
    """A checkpoint whose bytes live with the driver: loaded from what the task was given, saved by
    sending them back as an event."""

    def __init__(self, initial: bytes | None, interval: float, engine: str, events: queue.SimpleQueue):
        super().__init__(Path("driver"), interval, None, engine)
        self.latest, self.events = initial, events

    def read_bytes(self) -> bytes | None:
        return self.latest

    def write_bytes(self, data: bytes) -> None:
        self.latest = data
        self.events.put(("checkpoint", data))


def _train_unit_task(unit: Unit, data: DeviceData, device: str, threads: int, checkpoint_seconds: float | None,
                     checkpoint: bytes | None):
    """One unit, in a Ray worker process: a generator of the unit's events (see the module's
    docstring). Training runs in a thread so that each epoch's events leave as they happen."""
    import ray

    torch.set_num_threads(threads)  # as the local workers: the numbers do not depend on the node's cores
    import_dynamo()  # once per worker process, not in the first run's time
    context = ray.get_runtime_context()
    # A node by its address and the start of its id (one machine may hold several nodes).
    yield ("started", f"{ray.util.get_node_ip_address()}/{context.get_node_id()[:4]}", os.getpid())
    if device != "cpu":
        data = replace(data, **{f.name: getattr(data, f.name).to(device) for f in fields(data)
                                if isinstance(getattr(data, f.name), torch.Tensor)})
    events: queue.SimpleQueue = queue.SimpleQueue()
    checkpointer = None
    if checkpoint_seconds is not None and len(unit.members) == 1:
        checkpointer = _SentCheckpointer(checkpoint, checkpoint_seconds, "fast" if unit.stacked else "reference",
                                         events)

    def work() -> None:
        try:
            events.put(("finished", train_unit(unit, data, lambda position, record: events.put(
                ("epoch", position, record)), checkpointer)))
        except BaseException as error:  # raised in the task below, where Ray sends it to the driver
            events.put(("error", error))

    threading.Thread(target=work, name="reglab-unit", daemon=True).start()
    # Both engines save a checkpoint just before they report the epoch it ends: the two leave as
    # one event. Sent apart, a node lost between them left the driver a checkpoint of an epoch it
    # was never told of, and the retry, starting after it, never told it either.
    checkpoint = None
    while True:
        event = events.get()
        if event[0] == "error":
            raise event[1]
        if event[0] == "checkpoint":
            checkpoint = event[1]
            continue
        if event[0] == "epoch":
            event, checkpoint = (*event, checkpoint), None
        yield event
        if event[0] == "finished":
            return


def _gpu_memory() -> int:
    return torch.cuda.get_device_properties(0).total_memory


# ---------------------------------------------------------------------- GPUs


def task_options(unit: Unit, data: DeviceData, threads: int, gpu_bytes: int) -> dict[str, Any]:
    """What a unit's Ray task asks for: `threads` CPUs, and with GPUs of `gpu_bytes` each
    (0: none) its gpu_share of one. Ray's own retries are off (the driver retries a lost unit from
    its checkpoint); SPREAD sends units to every node, not first to fill the driver's (Ray's
    default prefers it)."""
    options: dict[str, Any] = {"num_cpus": threads, "max_retries": 0, "scheduling_strategy": "SPREAD"}
    if gpu_bytes:
        options["num_gpus"] = gpu_share(unit, data, gpu_bytes)
    return options


def gpu_share(unit: Unit, data: DeviceData, gpu_bytes: int) -> float:
    """The fraction of one GPU a unit asks Ray for, from its size: its copy of the data, and per
    run its parameters four times (weights, gradients, an optimizer's two moments) and a batch's
    inputs and layer outputs three times (the values kept for the backward pass, their gradients,
    temporaries), twice over for the allocator's slack, plus the 500 MB a CUDA context takes. Sizes are measured: the
    data's tensors, and each architecture's model built on the CPU (model_size). Rounded up to
    sixteenths, at most one GPU."""
    data_bytes = sum(t.numel() * t.element_size() for t in (getattr(data, f.name) for f in fields(data))
                     if isinstance(t, torch.Tensor))
    run_bytes = 0
    for _, variant, _ in unit.members:
        parameters, outputs = model_size(variant, tuple(data.image_shape), data.classes)
        run_bytes += 4 * (4 * parameters + 3 * variant.batch_size * (data.input_dim + outputs))
    needed = data_bytes + 2 * run_bytes + 500 * 2**20
    return min(1.0, max(GPU_SHARE_STEP, math.ceil(needed / gpu_bytes / GPU_SHARE_STEP) * GPU_SHARE_STEP))


@functools.lru_cache(maxsize=1024)
def model_size(variant, image_shape: tuple[int, int], classes: int) -> tuple[int, int]:
    """(parameters, values every layer outputs for one example) of a run of `variant`: its model
    built on the CPU and one example passed through it (milliseconds; once per variant, whatever
    its seeds). Any architecture, the CNN's feature maps included."""
    model = variant.architecture.build(variant, image_shape, classes, torch.Generator().manual_seed(0))
    outputs = []
    hooks = [module.register_forward_hook(lambda module, inputs, output: outputs.append(output.numel()))
             for module in model.modules() if next(module.children(), None) is None]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, image_shape[0] * image_shape[1]))
    for hook in hooks:
        hook.remove()
    return sum(p.numel() for p in model.parameters()), sum(outputs)


def split_for_gpus(units: list[Unit], gpus: int) -> list[Unit]:
    """Locally a GPU trains each stack whole; a cluster's GPUs each get a share of every stack, so
    that all of them work (a stack costs about what one run costs on a GPU, up to its memory)."""
    if gpus <= 1:
        return units
    pieces = []
    for unit in units:
        if not unit.stacked or len(unit.members) < 2:
            pieces.append(unit)
            continue
        size = math.ceil(len(unit.members) / gpus)
        pieces += [Unit(unit.members[i:i + size], True) for i in range(0, len(unit.members), size)]
    return pieces
