"""What the store's readers and the engines do with damaged or foreign files (issue 12, "also
found"): decompression bombs and zlib errors in .npz, a checkpoint of another architecture, a
directory whose making was cut short, non-finite numbers, typed readers of the wrong shape."""

from __future__ import annotations

import io
import json
import math
import os
import signal
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from run_dirs import TINY, numbers, train, write_study

from reglab.config import parse_study
from reglab.engine.checkpoint import Checkpointer
from reglab.engine.fast import train_stack
from reglab.engine.reference import train_run
from reglab.store import EpochRecord, RunArrays, RunRecord, RunStore
from reglab.store.files import Damaged, RunFiles, npz_bytes, read_npz_bytes, seal_json, unseal_json


def test_an_npz_that_declares_gigabytes_is_refused_before_inflating(fault_log):
    # A zip member whose header says 8 GiB (a decompression bomb), with a few bytes of data.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        header = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.uint8))
        header["shape"] = (8 << 30,)
        member = io.BytesIO()
        np.lib.format.write_array_header_1_0(member, header)
        archive.writestr("test_images.npy", member.getvalue() + bytes(1000))
    with pytest.raises(Damaged, match="declares more data than it holds"):
        read_npz_bytes(buffer.getvalue())
    # ... and one whose zip directory itself declares more than any run's arrays.
    with pytest.raises(Damaged, match="bytes inflated"):
        read_npz_bytes(npz_bytes({"a": np.zeros(1000, np.uint8)}), limit=500)
    fault_log(".npz declaring 8 GiB in a few bytes (a decompression bomb)", 2, "damaged, before anything is inflated")


def test_an_npz_with_corrupt_compressed_data_is_damaged_not_a_zlib_error(fault_log):
    data = bytearray(npz_bytes({"test_predictions": np.arange(5000, dtype=np.int16)}))
    data[200:240] = bytes(40)  # inside the deflate stream
    with pytest.raises(Damaged):
        read_npz_bytes(bytes(data))
    fault_log(".npz with corrupt deflate data (zlib.error)", 1, "damaged (one line), never a traceback")


def test_json_keeps_non_finite_numbers_as_null_and_the_readers_restore_nan(tmp_path):
    store = RunStore.create(tmp_path / "run", study={"name": "s", "seeds": [0], "variants": [{"name": "a"}]},
                            source_text="", environment={})
    epoch = EpochRecord(0, math.inf, 0.1, math.nan, 0.1, 1e30, 0.01)
    record = RunRecord("a", 0, "diverged", (epoch,), None, None, 0.1, diverged_at=0)
    path = store.save_run(0, record, RunArrays(np.zeros(3, np.int16), {}))
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text and '"train_loss": null' in text
    (stored,), damaged = store.load_runs()
    assert damaged == [] and math.isnan(stored.record.history[0].train_loss)
    assert stored.record.status == "diverged" and stored.record.diverged_at == 0


@pytest.mark.parametrize("text", ["[]", "null", '"text"', "{}", '{"variant": 3}'])
def test_valid_json_of_the_wrong_shape_is_damage_even_with_a_valid_checksum(tmp_path, text):
    files = RunFiles(tmp_path)
    files.write_bytes("seed-0.json", seal_json(json.loads(text)) if text.startswith("{") else text.encode())
    store = RunStore(tmp_path)
    with pytest.raises(Damaged):
        store._json("seed-0.json", __import__("reglab.store.shapes", fromlist=["RECORD"]).RECORD)


def test_a_json_file_whose_text_changed_fails_its_checksum():
    sealed = seal_json({"a": 1.5, "b": "x"})
    assert unseal_json(sealed) == {"a": 1.5, "b": "x"}
    with pytest.raises(Damaged, match="checksum mismatch"):
        unseal_json(sealed.replace(b"1.5", b"2.5"))


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_a_checkpoint_of_another_architecture_starts_the_run_over(blobs, tmp_path, engine, fault_log):
    data = blobs(seed=1, n_train=96, n_val=32, n_test=32, spread=0.5)
    study = "keras_compat = false\n[defaults]\nepochs = 3\nbatch_size = 32\n[[variants]]\nname = 'a'\nhidden = [{}]\n"
    small, big = parse_study(study.format(8)).variants[0], parse_study(study.format(16)).variants[0]

    def train(variant, checkpoint, on_epoch=None):
        if engine == "reference":
            return train_run(data, variant, 0, checkpoint=checkpoint, on_epoch=on_epoch)
        return train_stack(data, [(variant, 0)], checkpoint=checkpoint,
                           on_epoch=None if on_epoch is None else lambda position, record: on_epoch(record))[0]

    path = tmp_path / "seed-0.ckpt"

    def stop(record):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(small, Checkpointer(path, 0.0, engine=engine), on_epoch=stop)
    assert path.exists()
    resumed = train(big, Checkpointer(path, 0.0, engine=engine))
    fresh = train(big, None)
    assert [e.val_loss for e in resumed.record.history] == [e.val_loss for e in fresh.record.history]
    assert resumed.record.test_accuracy == fresh.record.test_accuracy
    fault_log(f"a valid checkpoint of another architecture ({engine} engine)", 1,
              "refused when restoring; that run trained from its start; the same result as a fresh run")


@pytest.fixture(scope="module")
def tiny_clean(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    study = write_study(folder, TINY)
    assert train(study, folder / "clean") == 0
    return study, numbers(folder / "clean")


@pytest.mark.parametrize("crash_at", ["study.json:1", "options.json:1", "data.json:1", "test_split.npz:1"])
def test_a_crash_while_the_directory_is_made_then_the_same_command(tiny_clean, tmp_path, crash_at, fault_log):
    study, clean = tiny_clean
    out = tmp_path / "run"
    command = [sys.executable, "-m", "reglab", "run", str(study), "--out", str(out), "--offline", "--no-report"]
    crashed = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "REGLAB_TEST_CRASH": crash_at})
    assert crashed.returncode == -signal.SIGKILL
    again = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert again.returncode == 0, again.stderr
    assert numbers(out) == clean
    labels, images = RunStore.open(out).test_split()  # written, even though the first attempt never did
    assert len(labels) == len(images) == 150
    fault_log(f"SIGKILL while the run directory is being made (before {crash_at.split(':')[0]} is in place), "
              "then the same command", 1, "the directory taken over or resumed; results identical; test split written")
