"""The weight-decay lesson on a real, short run: the built-in `weight-decay` study on digits, three
seeds, its 20 epochs (about 5-8 s on two cores). From the stored results alone, the distance between
the SGD pair's weights (L2 λ against decoupled decay 2λ: one update) stays at float rounding over
every epoch, and the Adam pair's (L2 against AdamW-style decay: different regularizers) grows; the
report draws it and says it in both languages."""

from __future__ import annotations

import json

import numpy as np
import pytest

import reglab
from reglab.analysis import diagnostics as D
from reglab.analysis import trajectories as T
from reglab.analysis.analyze import analyze
from reglab.analysis.collect import collect
from reglab.analysis.findings import findings
from reglab.report import write_report
from reglab.store import RunStore

SEEDS = 3


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("weight-decay") / "run"
    reglab.run("weight-decay", seeds=SEEDS, dataset="digits", out=root, report=False, progress=False, offline=True)
    return root


def test_the_sgd_pair_stays_the_same_run_and_the_adam_pair_parts_over_training(trained):
    analysis = analyze(collect(RunStore.open(trained)))
    sgd, adam = analysis.pair_trajectories["sgd_decay"], analysis.pair_trajectories["adam_decay"]
    assert len(sgd) == len(adam) == SEEDS
    for seed in range(SEEDS):
        assert len(sgd[seed]) == len(adam[seed]) == 20
        assert np.max(sgd[seed]) < D.SAME_RUN  # float rounding at every epoch (measured: at most about 1e-4)
        assert adam[seed][-1] > 0.1 and adam[seed][-1] > 3 * adam[seed][0]  # measured: ~0.035 -> ~0.4
        assert np.all(np.diff(adam[seed]) > 0)  # and it grows at every epoch
        # The last epoch's sketch against the exact distance of the final weights (no early stopping
        # here: they are the last epoch's): within 4 standard deviations of the sketch's error.
        exact = analysis.pair_distances["adam_decay"][seed]
        assert adam[seed][-1] == pytest.approx(exact, rel=4 * T.relative_std(analysis.sketch_buckets))
    pair = {f.variant: f for f in findings(analysis) if f.kind == "decay_pair"}
    assert "Over training the distance stayed at most" in pair["sgd_decay"].en
    assert "Over training the distance grew from" in pair["adam_decay"].en
    assert "訓練中も" in pair["sgd_decay"].ja and "大きくなりました" in pair["adam_decay"].ja


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_report_draws_the_distance_over_training(trained, tmp_path, lang):
    html = write_report(trained, tmp_path / lang, lang=lang).read_text(encoding="utf-8")
    assert (tmp_path / lang / "pair_distance.png").stat().st_size > 10_000
    caption = {"en": "count sketches of the weights", "ja": "カウントスケッチからの推定"}[lang]
    assert caption in html
    pairs = json.loads((tmp_path / lang / "findings.json").read_text(encoding="utf-8"))["pair_distances"]
    assert sorted(pairs) == ["adam_decay", "sgd_decay", "sgd_decay_half"]
    assert all(len(curve) == 20 for curve in pairs["adam_decay"]["per_epoch"].values())
    assert pairs["adam_decay"]["sketch_buckets"] == 256 and len(pairs["sgd_decay"]["final"]) == SEEDS
