"""Issue 27: attributions of stored runs, their sanity checks, and what the report concludes from
them and from per-class effects. References: Captum itself on the stored network, a gradient
written out by hand with NumPy, hand-computed statistics, and planted cases whose answer is known."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from trained_runs import copy, shared

captum = pytest.importorskip("captum", reason="Captum is the optional extra reglab[explain]: pip install captum")

import reglab  # noqa: E402
from reglab.analysis import class_effects as CE  # noqa: E402
from reglab.analysis import explanation_stats as ES  # noqa: E402
from reglab.explain.attributions import attribute  # noqa: E402
from reglab.explain.sanity import faithfulness, randomization_test  # noqa: E402
from reglab.explain.stored_maps import chosen_images, explain_study  # noqa: E402

IMAGES = 20


@pytest.fixture(scope="module")
def explained(tmp_path_factory) -> tuple[Path, dict]:
    """The session's trained study (2 variants x 2 seeds, digits), explained once by saliency."""
    run = copy(shared(tmp_path_factory), tmp_path_factory.mktemp("explain") / "run")
    return run, explain_study(reglab.load(run), methods=("saliency",), images=IMAGES)


def test_stored_maps_are_captums_own_on_the_stored_network(explained):
    run, out = explained
    result = reglab.load(run)
    chosen = np.array(out["images"])
    features = result.preprocessing.transform(result.test_inputs[chosen])
    targets = result.test_labels[chosen]
    import torch

    model = result.model("basic", 1)
    x = torch.tensor(features, requires_grad=True)
    direct = captum.attr.Saliency(model).attribute(x, target=torch.tensor(targets), abs=True).numpy()
    from reglab.store.files import RunFiles, read_npz_bytes

    path = next((run / "explanations" / "saliency").glob("00-*")) / "seed-1.npz"
    stored = read_npz_bytes(RunFiles(run).read_sealed(path))
    assert np.array_equal(stored["images"], chosen)
    np.testing.assert_allclose(stored["maps"], direct, atol=1e-5, rtol=0)


def test_saliency_of_an_mlp_is_the_gradient_written_out_by_hand(explained):
    run, _ = explained
    result = reglab.load(run)
    model = result.model("basic", 0)
    x = result.preprocessing.transform(result.test_inputs[:7]).astype(np.float64)
    target = result.test_labels[:7]
    # The network is Linear, ReLU, Linear, ReLU, Linear: d logit_t / dx = W1ᵀ D1 W2ᵀ D2 W3ᵀ e_t,
    # where D are the ReLUs' 0/1 masks of the forward pass (no autograd, no Captum).
    weights = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    kernels = [weights[k] for k in weights if k.endswith(".weight")]
    biases = [weights[k] for k in weights if k.endswith(".bias")]
    assert len(kernels) == 3
    h, masks = x, []
    for W, b in zip(kernels[:-1], biases[:-1]):
        pre = h @ W.T + b
        masks.append((pre > 0).astype(float))
        h = np.maximum(pre, 0)
    grad = kernels[-1][target]  # (N, hidden)
    for W, mask in zip(reversed(kernels[:-1]), reversed(masks)):
        grad = (grad * mask) @ W
    ours = attribute(model, x.astype(np.float32), target, "saliency", image_shape=(8, 8))
    np.testing.assert_allclose(ours, np.abs(grad), atol=1e-5)


def test_a_second_explain_reuses_the_stored_maps_and_recomputes_a_damaged_one(explained, tmp_path):
    run = copy(explained[0], tmp_path / "run")
    target = next((run / "explanations" / "saliency").glob("01-*")) / "seed-0.npz"
    target.write_bytes(b"not an npz")
    computed = []
    explain_study(reglab.load(run), methods=("saliency",), images=IMAGES, sanity=False,
                  on_run=lambda method, variant, seed, now: computed.append((variant, seed, now)))
    assert [(v, s) for v, s, now in computed if now] == [(reglab.load(run).variants[1], 0)]
    assert sum(1 for *_, now in computed if not now) == 3


def test_randomization_passes_for_trained_saliency_and_fails_for_a_map_that_ignores_the_model(explained):
    run, _ = explained
    result = reglab.load(run)
    model = result.model("basic", 0)
    x = result.preprocessing.transform(result.test_inputs[:24])
    t = result.test_labels[:24]
    saliency = randomization_test(model, x, t, lambda m, xs, ts: attribute(m, xs, ts, "saliency", image_shape=(8, 8)))
    assert saliency.verdict == "depends_on_model", saliency.to_json()
    # Planted: an "explanation" that is the input itself (an edge detector would do the same): it
    # cannot change when the weights are randomized, and the test must say so.
    copycat = randomization_test(model, x, t, lambda m, xs, ts: np.asarray(xs, dtype=np.float32).copy())
    assert copycat.verdict == "independent_of_model"
    assert [s.correlation.mean for s in copycat.stages] == pytest.approx([1.0] * len(copycat.stages))


def test_deleting_by_saliency_lowers_the_class_sooner_than_chance(explained):
    run, _ = explained
    result = reglab.load(run)
    model = result.model("basic", 0)
    x = result.preprocessing.transform(result.test_inputs[:40])
    t = result.test_labels[:40]
    maps = attribute(model, x, t, "saliency", image_shape=(8, 8))
    faithful = faithfulness(model, x, t, maps)
    planted = faithfulness(model, x, t, 1.0 / (np.abs(maps) + 1e-12))  # the least important pixels first
    assert faithful.deletion.mean < planted.deletion.mean


def test_gini_and_concentration_by_hand():
    even = np.ones((1, 10))
    one = np.zeros((1, 10))
    one[0, 3] = -5.0
    assert ES.gini(even)[0] == pytest.approx(0.0)
    assert ES.gini(one)[0] == pytest.approx(0.9)  # (n - 1) / n for one nonzero of n: Hurley & Rickard
    c = np.array([[1.0, 2.0, 3.0, 4.0]])  # sorted, c_k/|c| = .1 .2 .3 .4; (n-k+1/2)/n = 7/8 5/8 3/8 1/8
    assert ES.gini(c)[0] == pytest.approx(1 - 2 * (0.1 * 7 / 8 + 0.2 * 5 / 8 + 0.3 * 3 / 8 + 0.4 / 8))
    assert ES.concentration(np.arange(10.0)[None], top=0.2)[0] == pytest.approx((9 + 8) / 45)


def test_sparser_maps_are_found_with_five_seeds_and_left_undecided_with_three():
    rng = np.random.default_rng(0)
    dense = {s: rng.random((30, 64)) + 0.5 for s in range(5)}
    sparse = {s: np.where(rng.random((30, 64)) < 0.2, rng.random((30, 64)), 0.0) + 1e-3 for s in range(5)}
    changes = ES.changes({"base": dense, "l1": sparse}, {"base": "base", "l1": "base"})
    sparsity = next(c for c in changes if c.measure == "sparsity")
    assert sparsity.verdict == ES.HIGHER and sparsity.difference.low > 0
    three = ES.changes({"base": {s: dense[s] for s in range(3)}, "l1": {s: sparse[s] for s in range(3)}},
                       {"base": "base", "l1": "base"})
    assert next(c for c in three if c.measure == "sparsity").verdict == ES.UNDECIDED


def _predictions(labels: np.ndarray, fix: int | None, seeds: int, rng) -> dict[int, np.ndarray]:
    out = {}
    for s in range(seeds):
        p = labels.copy()
        wrong = rng.random(len(labels)) < 0.2
        p[wrong] = (labels[wrong] + 1) % 3
        if fix is not None:  # the variant gets class `fix` right, except for about 4%
            p[labels == fix] = np.where(rng.random((labels == fix).sum()) < 0.04, (fix + 1) % 3, fix)
        out[s] = p
    return out


class _V:
    def __init__(self, name, baseline, predictions):
        self.name, self.baseline, self.predictions = name, baseline, predictions


def test_a_class_a_technique_fixes_is_named_with_its_bonferroni_interval():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 200)
    base = _V("base", None, _predictions(labels, None, 6, rng))
    helped = _V("dropout", "base", _predictions(labels, 2, 6, rng))
    row = CE.for_study([base, helped], labels, ["a", "b", "c"])[0]
    verdicts = {e.label: e.verdict for e in row.classes}
    assert verdicts == {"a": CE.UNDECIDED, "b": CE.UNDECIDED, "c": CE.HELPS}
    c = row.classes[2]
    d = [np.mean(helped.predictions[s][labels == 2] == 2) - np.mean(base.predictions[s][labels == 2] == 2)
         for s in range(6)]
    assert c.p == pytest.approx(min(1.0, 3 * stats.ttest_1samp(d, 0).pvalue))
    half = stats.t.ppf(1 - 0.05 / 3 / 2, 5) * np.std(d, ddof=1) / np.sqrt(6)
    assert (c.difference.low, c.difference.high) == pytest.approx((np.mean(d) - half, np.mean(d) + half))
    removed = next(e for e in row.confusions if e.index == (2, 0))  # c → a: the baseline's mistake
    assert removed.verdict == CE.HELPS and removed.difference.mean < 0


def test_three_seeds_that_flip_the_same_image_decide_nothing():
    labels = np.repeat(np.arange(2), 50)
    base = {s: labels.copy() for s in range(3)}
    variant = {s: labels.copy() for s in range(3)}
    for p in variant.values():
        p[0] = 1  # the same single image, in every seed: no spread, t-test p = 0
    row = CE.for_study([_V("b", None, base), _V("v", "b", variant)], labels, ["x", "y"])[0]
    assert all(e.verdict == CE.UNDECIDED for e in row.classes + row.confusions)


def test_the_report_section_and_the_command(explained, tmp_path):
    run = copy(explained[0], tmp_path / "run")
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": os.pathsep.join(sys.path)}
    bad = subprocess.run([sys.executable, "-m", "reglab", "explain", str(run), "--method", "gradcam"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "gradcam" in bad.stderr and "Traceback" not in bad.stderr
    done = subprocess.run([sys.executable, "-m", "reglab", "explain", str(run), "--images", str(IMAGES),
                           "--format", "json", "--lang", "ja"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["images"] == chosen_images(reglab.load(run).test_labels, IMAGES).tolist()
    page = (run / "report" / "report.html").read_text(encoding="utf-8")
    assert "ネットワークが何を見ているか" in page and "サリエンシー" in page
    assert (run / "report" / "maps_saliency.png").exists() and (run / "report" / "first_units.png").exists()
    english = reglab.load(run).report("en")
    assert "What the networks look at" in english.html and "Bonferroni" in english.html


def test_result_explain_in_python(explained):
    result = reglab.load(explained[0])
    shown = result.explain("basic", method="integrated_gradients")
    assert shown.maps.shape == (10, 64) and shown._repr_png_().startswith(b"\x89PNG")
    with pytest.raises(reglab.ConfigError, match="occlusion"):
        result.explain("basic", method="lime")


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "JSON of the wrong shape", "a symlink out",
                                    "a directory"])
def test_damaged_explanations_leave_the_report_whole_and_explain_writes_them_again(explained, tmp_path, damage):
    from reglab.cli import main
    from reglab.store.files import seal_json

    run = copy(explained[0], tmp_path / "run")
    target = run / "explanations.json"
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    if damage == "truncated":
        target.write_bytes(target.read_bytes()[:40])
    elif damage == "random bytes":
        target.write_bytes(os.urandom(300))
    elif damage == "JSON of the wrong shape":
        target.write_bytes(seal_json({"images": "x", "methods": {"saliency": {"variants": [1, 2]}}}))
    elif damage == "a symlink out":
        target.unlink()
        target.symlink_to(outside)
    else:
        target.unlink()
        target.mkdir()
    assert main(["report", str(run), "--lang", "en"]) == 0
    page = (run / "report" / "report.html").read_text(encoding="utf-8")
    assert "reglab explain" in page  # the section says how to make the maps again
    if damage != "a directory":  # written again in its place (a link is replaced, never followed)
        assert main(["explain", str(run), "--images", str(IMAGES), "--no-sanity", "--no-report"]) == 0
        assert json.loads(outside.read_text()) == {} and not target.is_symlink()
        assert "sparsity (Gini)" in reglab.load(run).report("en").html
