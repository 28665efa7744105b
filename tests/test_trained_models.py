"""A trained model out: `result.model/predict/predict_proba` and `reglab predict`, on real runs of
both architectures trained by both engines; bad input to them, each a clear error with its fix."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

import reglab
from reglab.cli import main
from reglab.data import load_dataset, make_splits


def tiny_study(seeds: list[int], residual: bool) -> reglab.Study:
    """An MLP with batch norm and dropout, a CNN with batch norm, spatial and dense dropout, and
    (`residual`) a residual MLP with stochastic depth and a bidirectional LSTM with recurrent dropout: every layer kind the architectures have, on
    digits (whose pixels are 0..16, not 0..255)."""
    variants = [reglab.Variant("mlp", dropout=0.2, batch_norm=True),
                reglab.Variant("cnn", model="cnn", conv=[{"filters": 4, "pool": 2}], spatial_dropout=0.1,
                               dropout=0.1, batch_norm=True)]
    if residual:  # the fast engine has no stacked form of it
        variants.append(reglab.Variant("resmlp", model="resmlp", width=16, hidden=[8, 8], dropout=0.1,
                                       stochastic_depth=0.2))
        variants.append(reglab.Variant("lstm", model="lstm", hidden=[8], bidirectional=True, activation="tanh",
                                       dropout=0.1, recurrent_dropout=0.2))
    return reglab.Study(
        "predict", seeds=seeds, data={"dataset": "digits", "train": 300, "validation": 100, "test": 150},
        defaults={"epochs": 2, "batch_size": 64, "hidden": [16]}, variants=variants)


class KerasStyle:
    """A callback as Keras users write them (keras.callbacks.Callback's methods), keeping what it hears."""

    def __init__(self):
        self.heard = []

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        self.heard.append(("begin", self.params["variant"], self.params["seed"], None, logs))

    def on_epoch_end(self, epoch, logs=None):
        self.heard.append(("epoch", self.params["variant"], self.params["seed"], epoch, logs))

    def on_train_end(self, logs=None):
        self.heard.append(("end", self.params["variant"], self.params["seed"], None, logs))


class Broken:
    def on_epoch_end(self, epoch, logs=None):
        raise ValueError("a bug in the user's callback")


@pytest.fixture(scope="module", params=["reference", "fast"])
def trained(request, tmp_path_factory) -> reglab.StudyResult:
    import warnings

    seeds = [0, 1] if request.param == "fast" else [0]  # the ensemble tests use the fast engine's two seeds
    callback = KerasStyle()
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        result = reglab.run(tiny_study(seeds, residual=request.param == "reference"), out=tmp_path_factory.mktemp("predict") / "run", engine=request.param,
                            offline=True, progress=False, report=False, checkpoint_seconds=None,
                            callbacks=[Broken(), callback])
    assert {run.engine for run in result.runs} == {request.param}
    result.callback, result.warned = callback, [str(w.message) for w in warned if w.category is RuntimeWarning]
    return result


def test_keras_style_callbacks_hear_each_runs_epochs_as_its_history_stores_them(trained):
    heard = trained.callback.heard
    for run in trained.runs:
        mine = [(kind, epoch, logs) for kind, variant, seed, epoch, logs in heard
                if (variant, seed) == (run.variant, run.seed)]
        history = trained.history(run.variant, run.seed)
        epochs = [{key: history[key][e] for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr")}
                  for e in range(len(run.history))]
        assert mine == [("begin", None, {}), *[("epoch", e, logs) for e, logs in enumerate(epochs)],
                        ("end", None, epochs[-1])], run.variant
    # Keras's keys: its loss includes the penalty (none here) and its accuracy is the training split's.
    assert set(next(logs for kind, *_, logs in heard if kind == "epoch")) == {"loss", "accuracy", "val_loss",
                                                                               "val_accuracy", "lr"}
    # A callback that raises is told about once and not called again; the study went on.
    assert len(trained.warned) == 1 and "Broken.on_epoch_end raised ValueError" in trained.warned[0]


def test_the_stored_preprocessing_gives_the_features_training_had(trained):
    # An independent path to the test features: the splits as the engine made them from the dataset.
    splits = make_splits(load_dataset("digits", allow_download=False), train=300, validation=100, test=150)
    features = trained.preprocessing.transform(trained.test_inputs)
    assert features.dtype == np.float32 and np.array_equal(features, splits.x_test)
    assert trained.preprocessing.to_json() == {"kind": "images", "image_shape": [8, 8], "pixel_max": 16.0}


@pytest.mark.parametrize("variant", ["mlp", "cnn", "resmlp", "lstm"])
def test_predict_on_the_stored_test_inputs_reproduces_the_stored_predictions(trained, variant):
    if variant not in trained.variants:
        pytest.skip(f"{variant} trains in the reference engine only")
    for seed in trained.seeds:
        stored = trained.predictions(variant, seed)
        predicted = trained.predict(variant, trained.test_inputs, seed=seed)
        assert np.array_equal(predicted, stored), f"{variant} seed {seed}: {np.sum(predicted != stored)} differ"
        # The stored test accuracy is the one these predictions score.
        accuracy = float(np.mean(predicted == trained.test_labels))
        assert accuracy == pytest.approx(trained.run(variant, seed).test_accuracy, abs=1e-6)


def test_model_is_the_trained_network_in_eval_mode(trained):
    import torch

    model = trained.model("cnn", 0)
    assert isinstance(model, torch.nn.Module) and not model.training
    assert model.class_names == [str(d) for d in range(10)] and model.preprocessing == trained.preprocessing
    with torch.no_grad():
        logits = model(torch.from_numpy(model.preprocessing.transform(trained.test_inputs)))
    probabilities = trained.predict_proba("cnn", trained.test_inputs, seed=0)
    assert probabilities.shape == (150, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities, torch.softmax(logits, 1).numpy(), rtol=0, atol=1e-7)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-6)


def test_an_ensemble_averages_its_runs_probabilities(trained):
    if len(trained.seeds) < 2:
        pytest.skip("one seed: no ensemble")
    each = [trained.predict_proba("mlp", trained.test_inputs, seed=s) for s in (0, 1)]
    together = trained.predict_proba("mlp", trained.test_inputs, seed="all")
    np.testing.assert_allclose(together, (each[0] + each[1]) / 2, rtol=0, atol=1e-7)
    assert np.array_equal(trained.predict("mlp", trained.test_inputs, seed=[0, 1]), together.argmax(1))
    assert not np.array_equal(each[0], each[1])  # two different networks, or the test shows nothing


def test_inputs_in_every_form_give_the_same_predictions(trained, tmp_path):
    images = trained.test_inputs  # digits' 0..16 levels, as floats
    expected = trained.predictions("cnn", 0)
    features = trained.preprocessing.transform(images)
    for inputs, options in [(images.astype(np.uint8), {}), (images.reshape(150, 64), {}),
                            (images.reshape(150, 1, 8, 8), {}), (features, {"preprocessed": True}),
                            (trained.test_images, {"eight_bit": True})]:
        assert np.array_equal(trained.predict("cnn", inputs, seed=0, **options), expected)


def test_reglab_predict_writes_the_predictions_of_a_csv_a_numpy_file_and_an_image_folder(trained, tmp_path):
    from PIL import Image

    expected = trained.predictions("cnn", 0)
    rows = trained.test_inputs.reshape(150, 64).astype(int)
    np.save(tmp_path / "x.npy", trained.test_inputs)
    np.savez(tmp_path / "x.npz", x=trained.test_inputs, y=trained.test_labels)
    pd.DataFrame(rows, columns=[f"pixel{i}" for i in range(64)]).to_csv(tmp_path / "named.csv", index=False)
    np.savetxt(tmp_path / "bare.csv", rows, delimiter=",", fmt="%d")  # no header: the first row is data
    folder = tmp_path / "images" / "some"
    folder.mkdir(parents=True)
    for index, image in enumerate(trained.test_images):  # 8-bit PNGs, as a user's images are
        Image.fromarray(image).save(folder / f"{index:03d}.png")
    for name in ("x.npy", "x.npz", "named.csv", "bare.csv", "images"):
        out = tmp_path / f"{name}.predictions.csv"
        assert main(["predict", str(trained.run_dir), "--variant", "cnn", str(tmp_path / name), "--out", str(out)]) == 0
        table = pd.read_csv(out)
        assert np.array_equal(table["predicted"], expected), name
        assert list(table.columns[-10:]) == [f"p_{d}" for d in range(10)]
        np.testing.assert_allclose(table.iloc[:, -10:].sum(axis=1), 1.0, atol=1e-4)
    assert table["file"].tolist()[:2] == ["some/000.png", "some/001.png"]


def test_reglab_predict_with_seed_all_is_the_ensemble(trained, tmp_path):
    if len(trained.seeds) < 2:
        pytest.skip("one seed: no ensemble")
    np.save(tmp_path / "x.npy", trained.test_inputs)
    out = tmp_path / "ensemble.csv"
    assert main(["predict", str(trained.run_dir), "--variant", "mlp", "--seed", "all", str(tmp_path / "x.npy"),
                 "--out", str(out)]) == 0
    together = trained.predict_proba("mlp", trained.test_inputs, seed="all")
    np.testing.assert_allclose(pd.read_csv(out).iloc[:, -10:].to_numpy(), together, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ bad input


def _inputs(trained, tmp_path) -> dict[str, tuple]:
    """name -> (file to write, what to write, the words the error must say)."""
    x = trained.test_inputs
    return {
        "images of another size (5x5 for a model of 8x8)": ("small.npy", np.zeros((3, 5, 5)), "shape (3, 5, 5)"),
        "a CSV with other columns than training (a label column too)":
            ("labelled.csv", pd.DataFrame(np.c_[x.reshape(150, 64), trained.test_labels]), "(150, 65)"),
        "a CSV with a column of text": ("text.csv", pd.DataFrame({"a": ["x"] * 3, **{str(i): [1] * 3 for i in range(63)}}),
                                        "not numbers"),
        "NaN among the inputs": ("nan.npy", np.where(np.arange(64) == 3, np.nan, 1.0).reshape(1, 8, 8), "NaN"),
        "8-bit pixels for a model of 0..16 pixels": ("eight.npy", (x * 15).astype(np.uint8), "span 0 to 16"),
        "features already scaled to [0, 1]": ("scaled.npy", x / 16.0, "already scaled"),
        "an .npz of two arrays, neither named as inputs": ("two.npz", {"a": x, "b": x}, "not clear"),
        "a file that is not CSV, NumPy or images": ("inputs.json", "{}", "not .json"),
        "a folder with no images": ("empty", None, "holds no images"),
        "a corrupt PNG": ("corrupt", b"\x89PNG\r\n\x1a\n garbage", "not a readable image"),
    }


def _write(path, content) -> None:
    if content is None or isinstance(content, bytes):
        path.mkdir()
        if content:
            (path / "broken.png").write_bytes(content)
    elif isinstance(content, pd.DataFrame):
        content.to_csv(path, index=False)
    elif isinstance(content, dict):
        np.savez(path, **content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        np.save(path, content)


def test_bad_inputs_are_refused_with_the_fix(trained, tmp_path, capsys, fault_log):
    if trained.runs[0].engine != "fast":
        pytest.skip("the inputs are read before any engine matters: once is enough")
    cases = _inputs(trained, tmp_path)
    for fault, (name, content, words) in cases.items():
        _write(tmp_path / name, content)
        out = tmp_path / f"{name}.out.csv"
        code = main(["predict", str(trained.run_dir), "--variant", "mlp", str(tmp_path / name), "--out", str(out)])
        said = capsys.readouterr().err
        assert code == 2 and words in said and "Fix:" in said and "Traceback" not in said, (fault, said)
        assert str(tmp_path / name) in " ".join(said.split()), (fault, said)  # names the file
        assert not out.exists() and not list(tmp_path.glob(f".{name}.out.csv*")), fault  # nothing half-written
    fault_log("reglab predict on inputs unlike training's: " + "; ".join(cases), len(cases),
              "exit 2 naming the file, the problem and the fix; no predictions file written")
    np.save(tmp_path / "x.npy", trained.test_inputs)
    assert main(["predict", str(trained.run_dir), "--variant", "mlp", str(tmp_path / "x.npy"), "--out",
                 str(tmp_path)]) == 2
    assert "is a folder. Fix: give the predictions file's name" in " ".join(capsys.readouterr().err.split())
    fault_log("reglab predict --out naming a folder", 1, "exit 2 with the fix")
    none = trained.predict_with_probabilities("mlp", np.zeros((0, 8, 8)), seed=0)
    assert none[0].shape == (0,) and none[1].shape == (0, 10)  # no rows: no predictions, no error
    with pytest.raises(reglab.ReglabError, match="shape"):
        trained.predict("mlp", np.zeros((2, 7)), seed=0)


def test_an_unknown_variant_or_seed_and_missing_or_damaged_weights_are_refused(trained, tmp_path, capsys, fault_log):
    if trained.runs[0].engine != "fast":
        pytest.skip("the store is the same for both engines: once is enough")
    run_dir = tmp_path / "run"
    shutil.copytree(trained.run_dir, run_dir)
    np.save(tmp_path / "x.npy", trained.test_inputs)
    npz = next((run_dir / "runs").glob("00-*/seed-1.npz"))
    npz.write_bytes(npz.read_bytes()[:-100])  # damaged: no longer its record's checksum
    next((run_dir / "runs").glob("00-*/seed-0.npz")).unlink()
    # Intact files (their checksums in their record) holding the weights of another network.
    from reglab.store import RunArrays, RunStore

    cnn = trained.stored_run("cnn", 1)
    RunStore.open(run_dir).save_run(1, cnn.record, RunArrays(cnn.arrays().test_predictions,
                                                             {"layers.0.weight": np.zeros((16, 64), np.float32)}))
    cases = {"an unknown variant": (["--variant", "nope"], "not a variant", "mlp, cnn"),
             "a seed with no run": (["--variant", "cnn", "--seed", "7"], "no finished run of seed 7", "finished seeds: 0, 1"),
             "a missing weights file (.npz)": (["--variant", "mlp"], "seed-0.npz is missing", "reglab resume"),
             "a damaged weights file (.npz)": (["--variant", "mlp", "--seed", "1"], "seed-1.npz is damaged",
                                               "reglab resume"),
             "an intact weights file of another network": (["--variant", "cnn", "--seed", "1"],
                                                           "do not fit the variant 'cnn'",
                                                           "delete that file and its record")}
    for fault, (args, problem, fix) in cases.items():
        code = main(["predict", str(run_dir), *args, str(tmp_path / "x.npy"), "--out", str(tmp_path / "out.csv")])
        said = " ".join(capsys.readouterr().err.split())
        assert code == 2 and problem in said and fix in said and "Traceback" not in said, (fault, said)
        assert not (tmp_path / "out.csv").exists()
    fault_log("reglab predict: " + "; ".join(cases), len(cases),
              "exit 2 naming the problem and the fix (a variant or seed that exists, or `reglab resume`)")
    result = reglab.load(run_dir)
    with pytest.raises(reglab.ReglabError, match="not a variant"):
        result.model("nope")
    with pytest.raises(reglab.ReglabError, match="seed-0.npz is missing"):
        result.predict_proba("mlp", trained.test_inputs, seed="all")  # an ensemble with one unreadable run
    with pytest.raises(reglab.ReglabError, match="seed-1.npz is damaged"):
        result.model("mlp", 1)


# ------------------------------------------------------------------ saved without reglab


def _code_blocks(path) -> list[str]:
    import re

    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def test_the_documented_torch_only_loader_gives_reglabs_predictions(trained, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    if trained.runs[0].engine != "reference":
        pytest.skip("the weights' format is the same for both engines: once is enough")
    loader = next(block for block in _code_blocks(Path(__file__).parents[1] / "docs" / "models.md")
                  if "load_file" in block)
    variants = ("mlp", "cnn", "resmlp")
    for variant in variants:
        trained.save_model(variant, tmp_path / variant / "model", seed=0)
        np.save(tmp_path / variant / "images.npy", trained.test_inputs)
    (tmp_path / "loader.py").write_text(loader + "\nnumpy.save('probabilities.npy', probabilities.numpy())\n"
                                        "json.dump(predicted, open('predicted.json', 'w'))\n")
    # The block as the page shows it, in each model's folder, in one fresh interpreter where `import reglab` fails.
    code = ("import os, runpy, sys\nsys.modules['reglab'] = None\n"
            f"for folder in {[str(tmp_path / v) for v in variants]!r}:\n"
            f"    os.chdir(folder)\n    runpy.run_path({str(tmp_path / 'loader.py')!r})\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for variant in variants:
        probabilities = np.load(tmp_path / variant / "probabilities.npy")
        np.testing.assert_allclose(probabilities, trained.predict_proba(variant, trained.test_inputs, seed=0),
                                   rtol=0, atol=1e-6)
        predicted = json.loads((tmp_path / variant / "predicted.json").read_text())
        assert predicted == [str(c) for c in trained.predictions(variant, 0)], variant


def test_export_to_onnx_matches_pytorch_within_1e_5(trained, tmp_path):
    import onnxruntime
    import torch

    if trained.runs[0].engine != "reference":
        pytest.skip("one export is enough: the ONNX exporter takes seconds")
    assert main(["export", str(trained.run_dir), "--to", "onnx", str(tmp_path / "models"), "--variant", "cnn",
                 "--seed", "0"]) == 0
    folder = tmp_path / "models" / "01-cnn-seed-0"
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "model.onnx", "model.safetensors"]
    description = json.loads((folder / "model.json").read_text())
    assert description["files"]["onnx_max_abs_difference"] <= 1e-5
    features = trained.preprocessing.transform(trained.test_inputs)
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    ours = session.run(["logits"], {"features": features})[0]
    with torch.no_grad():
        reference = trained.model("cnn", 0)(torch.from_numpy(features)).numpy()
    assert ours.shape == (150, 10) and np.max(np.abs(ours - reference)) <= 1e-5
    assert np.array_equal(ours.argmax(1), trained.predictions("cnn", 0))


def test_export_refuses_what_it_cannot_write(trained, tmp_path, capsys, fault_log):
    if trained.runs[0].engine != "fast":
        pytest.skip("once is enough")
    cases = {"--to model without a folder": ["--to", "model"],
             "--to model of a variant the study does not have": ["--to", "model", str(tmp_path / "m"), "--variant", "x"],
             "--to model of a seed with no run": ["--to", "model", str(tmp_path / "m"), "--seed", "9"],
             "--variant with --to csv": ["--to", "csv", str(tmp_path / "c"), "--variant", "mlp"]}
    for fault, args in cases.items():
        code = main(["export", str(trained.run_dir), *args])
        said = " ".join(capsys.readouterr().err.split())
        assert code == 2 and "Fix:" in said and "Traceback" not in said, (fault, said)
    assert not (tmp_path / "m").exists()
    fault_log("reglab export: " + "; ".join(cases), len(cases), "exit 2 with the fix; nothing written")


def test_a_study_that_resized_its_image_folder_predicts_on_images_resized_the_same_way(tmp_path):
    from PIL import Image

    digits = load_dataset("digits", allow_download=False)
    names = ["zero", "one", "two"]
    for i in np.flatnonzero(digits.train_labels < 3)[:120]:
        folder = tmp_path / "images" / names[digits.train_labels[i]]
        folder.mkdir(parents=True, exist_ok=True)  # 16x12 PNGs, which the study resizes to 8x8
        Image.fromarray((digits.train_images[i] * 15).astype(np.uint8)).resize((12, 16)).save(folder / f"{i}.png")
    study = reglab.Study("resized", seeds=[0], data={"path": str(tmp_path / "images"), "image_size": [8, 8],
                                                    "train": 60, "validation": 30, "test": 30},
                         defaults={"epochs": 1, "batch_size": 32, "hidden": [8]}, variants=[reglab.Variant("plain")])
    result = reglab.run(study, out=tmp_path / "run", offline=True, progress=False, report=False,
                        checkpoint_seconds=None)
    new = tmp_path / "new"
    new.mkdir()
    for index, image in enumerate(result.test_images[:10]):
        Image.fromarray(image).resize((12, 16)).save(new / f"{index}.png")
    assert main(["predict", str(result.run_dir), "--variant", "plain", str(new), "--out", str(tmp_path / "p.csv")]) == 0
    resized = np.stack([np.asarray(Image.open(new / f"{i}.png").convert("L").resize((8, 8), Image.Resampling.BILINEAR))
                        for i in range(10)])  # as the study's image_size resizes
    assert np.array_equal(pd.read_csv(tmp_path / "p.csv")["predicted"], result.predict("plain", resized, seed=0))


def test_a_study_on_image_arrays_of_numbers_in_0_1_reproduces_its_stored_predictions(tmp_path):
    # test_split.npz's 8-bit images cannot hold such pixels exactly; the run keeps them as given.
    digits = load_dataset("digits", allow_download=False)
    x, y = digits.train_images[:240] / 16.0, digits.train_labels[:240]
    study = reglab.Study("floats", seeds=[0], data={"train": 120, "validation": 60, "test": 60},
                         defaults={"epochs": 1, "batch_size": 32, "hidden": [8]}, variants=[reglab.Variant("plain")])
    result = reglab.run(study, data={"x": x, "y": y}, out=tmp_path / "run", offline=True, progress=False,
                        report=False, checkpoint_seconds=None)
    assert result.preprocessing.to_json()["pixel_max"] == 1.0
    assert np.array_equal(result.predict("plain", result.test_inputs, seed=0), result.predictions("plain", 0))
    assert np.isin(result.test_inputs, x).all()  # the pixels as given, not 8-bit approximations
