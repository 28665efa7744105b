"""Everything the report shows, computed from the stored results alone (no torch, no engine)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reglab.analysis import diagnostics as D
from reglab.analysis import weights as W
from reglab.analysis.collect import Collected, Missing, VariantRuns
from reglab.analysis.curves import Band, curves
from reglab.analysis.onset import Onset, OnsetSpread, onset_spread, overfitting_onset
from reglab.analysis.sweeps import SweepAnalysis, analyze_sweeps, point_names
from reglab.analysis.statistics import (
    DIFFERENCE_OF_PROPORTIONS, NON_NEGATIVE, PROPORTION, Interval, PairedComparison, paired_comparison, t_interval,
    with_holm,
)
from reglab.store import COMPLETED, RunRecord
from reglab.store.files import Damaged

# Compared against the baseline: metric -> whether higher is better.
COMPARED = {"test_accuracy": True, "test_loss": False}
# The range of each bounded per-seed metric: its interval stays inside it (statistics.bounded_interval).
BOUNDS = {"test_accuracy": PROPORTION, "test_loss": NON_NEGATIVE, "final_train_loss": NON_NEGATIVE,
          "final_val_loss": NON_NEGATIVE, "best_val_loss": NON_NEGATIVE, "best_val_epoch": NON_NEGATIVE,
          "final_accuracy_gap": DIFFERENCE_OF_PROPORTIONS, "seconds": NON_NEGATIVE}
DIFFERENCE_BOUNDS = {"test_accuracy": DIFFERENCE_OF_PROPORTIONS}
# The keys of a resolved variant that are not settings.
NOT_SETTINGS = ("name", "description", "description_ja", "baseline")  # words, not settings
GALLERY_SIZE = 20
SAMPLES = 10  # the tutorial shows the first ten test images with their predictions
TOP_PAIRS = 5
# A sweep of more points than this gets only its landmarks in the report's per-variant figures: a
# hundred panels of learning curves is unreadable, and drawing them was most of a 1,000-run report's
# time. The sweep's own figures (report/sweep_figures.py) show every point.
SWEEP_POINTS_DRAWN = 8


@dataclass
class VariantAnalysis:
    name: str
    description: str
    baseline: str | None
    spec: dict[str, Any]
    changes: list[str]  # settings that differ from the baseline's (all techniques for a baseline)
    model: list[dict[str, Any]] | None
    seeds: list[int]  # seeds with a readable record
    diverged: list[int]
    per_seed: dict[str, dict[int, float]]  # metric -> seed -> value, completed runs only
    metrics: dict[str, Interval]
    curves: dict[str, Band]
    onsets: dict[int, Onset]
    onset: OnsetSpread
    lr: list[float]  # per epoch, from the longest run (a schedule is the same for every seed)
    early_stopping: dict[int, dict[str, int | None]]
    sparsity: dict[str, Interval] = field(default_factory=dict)  # layer -> share of |w| < NEAR_ZERO
    hidden_sparsity: Interval | None = None
    kernel_sample: np.ndarray | None = None  # the first seed's kernels, for the histogram
    # The first seed's kernels per layer (conv2d_1, ..., dense_1, ...) and their shapes as Keras
    # writes them: a CNN's report draws each layer apart (conv and dense weights differ in scale).
    layer_samples: dict[str, np.ndarray] = field(default_factory=dict)
    first_filters: np.ndarray | None = None  # a CNN's first conv filters [out, kh, kw], first seed
    predictions: dict[int, np.ndarray] = field(default_factory=dict)
    per_class: dict[str, list[float]] | None = None  # precision/recall/f1/support per class, mean over seeds
    confusion: np.ndarray | None = None  # summed over seeds
    # From each completed run's final weights (the kept ones, after early stopping's restore), per seed.
    hidden_norms: dict[int, float] = field(default_factory=dict)  # sqrt(Σ w²) over the hidden kernels
    largest_unit_norms: dict[int, float] = field(default_factory=dict)  # a max-norm constraint caps these
    # Batch norm: per seed, (loss on training rows in evaluation mode, training loss) at the last epoch.
    norm_check: dict[int, tuple[float, float]] = field(default_factory=dict)
    # Max-norm: per seed, per epoch, the largest unit norm before projection over the limit (records).
    max_norm_peaks: dict[int, list[float]] = field(default_factory=dict)

    @property
    def completed(self) -> list[int]:
        return sorted(self.per_seed.get("test_accuracy", {}))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "baseline": self.baseline,
            "changes": self.changes, "seeds": self.seeds, "completed": self.completed, "diverged": self.diverged,
            "metrics": {k: v.to_json() for k, v in self.metrics.items()},
            "per_seed": {k: {str(s): v for s, v in values.items()} for k, values in self.per_seed.items()},
            "overfitting_onset": self.onset.to_json(),
            "early_stopping": {str(s): v for s, v in self.early_stopping.items()},
            "learning_rate": self.lr,
            "curves": {k: v.to_json() for k, v in self.curves.items()},
            "near_zero_weights": {
                "threshold": W.NEAR_ZERO,
                "hidden": self.hidden_sparsity.to_json() if self.hidden_sparsity else None,
                "layers": {k: v.to_json() for k, v in self.sparsity.items()},
            },
            "hidden_weight_norm": {str(s): v for s, v in self.hidden_norms.items()},
            "largest_unit_norm": {str(s): v for s, v in self.largest_unit_norms.items()},
            "batch_norm_check": {str(s): {"train_eval_loss": e, "train_loss": t} for s, (e, t) in self.norm_check.items()},
            "max_norm_peak": {str(s): [v if np.isfinite(v) else None for v in p] for s, p in self.max_norm_peaks.items()},
            "per_class": self.per_class,
            "confusion_matrix": self.confusion.tolist() if self.confusion is not None else None,
        }


@dataclass
class Analysis:
    collected: Collected
    variants: list[VariantAnalysis]
    comparisons: dict[str, list[PairedComparison]]  # metric -> one per variant that has a baseline
    class_names: list[str]
    focus: str | None  # the variant whose errors the report shows (_focus)
    histogram_edges: np.ndarray
    histograms: dict[str, np.ndarray]
    missing: list[Missing]
    # Variants that swap L2 for decoupled decay against their baseline: per seed, the relative
    # distance between the two runs' final hidden weights (analysis/diagnostics.py), and per epoch
    # from their weight sketches (analysis/trajectories.py; sketch_buckets: the sketches' K).
    pair_distances: dict[str, dict[int, float]] = field(default_factory=dict)
    pair_trajectories: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)
    sketch_buckets: int | None = None
    sweeps: list[SweepAnalysis] = field(default_factory=list)  # sweeps' points, choice and regimes
    # A study with a CNN: a histogram per variant and layer, on bins shared by the layers of one
    # name and shape across variants (layer_edges[(name, shape)]); empty for MLP-only studies.
    layer_edges: dict[tuple[str, tuple[int, ...]], np.ndarray] = field(default_factory=dict)
    layer_histograms: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # variant -> layer -> counts

    @property
    def per_layer(self) -> bool:
        """Layers of different kinds (a convolution, a recurrent layer's kernels) with different
        initial ranges: the figures name and show each layer on its own."""
        return any(name.startswith(("conv", "rnn")) for v in self.variants for name in v.layer_samples)

    def variant(self, name: str) -> VariantAnalysis | None:
        return next((v for v in self.variants if v.name == name), None)

    def as_drawn(self) -> Analysis:
        """The analysis the report's per-variant figures draw: every hand-written variant and, of
        each sweep of more than SWEEP_POINTS_DRAWN points, only its landmarks (SweepAnalysis.landmarks).
        Itself when nothing is left out."""
        left_out = {p.name for sweep in self.sweeps if len(sweep.points) > SWEEP_POINTS_DRAWN
                    for p in sweep.points} - {p.name for sweep in self.sweeps for p in sweep.landmarks()}
        if not left_out:
            return self
        return dataclasses.replace(self, variants=[v for v in self.variants if v.name not in left_out])

    def comparison(self, metric: str, variant: str) -> PairedComparison | None:
        return next((c for c in self.comparisons.get(metric, []) if c.variant == variant), None)

    def confused_pairs(self) -> list[dict[str, Any]]:
        """The focus variant's most frequent (true, predicted) confusions over all its seeds."""
        focus = self.variant(self.focus) if self.focus else None
        if focus is None or focus.confusion is None:
            return []
        cm = focus.confusion.copy()
        np.fill_diagonal(cm, 0)
        order = np.argsort(cm, axis=None, kind="stable")[::-1][:TOP_PAIRS]
        seeds = max(len(focus.predictions), 1)
        totals = focus.confusion.sum(axis=1)
        pairs = []
        for flat in order:
            true, predicted = divmod(int(flat), cm.shape[1])
            if cm[true, predicted] == 0:
                break
            pairs.append({"true": true, "predicted": predicted, "count": int(cm[true, predicted]),
                          "per_seed": cm[true, predicted] / seeds,
                          "share_of_true": float(cm[true, predicted] / totals[true]) if totals[true] else None})
        return pairs


def analyze(collected: Collected) -> Analysis:
    missing = list(collected.missing)
    labels = collected.test_labels
    class_count = len(collected.data.get("class_names") or []) or (int(labels.max()) + 1 if labels is not None
                                                                    and labels.size else 0)
    class_names = list(collected.data.get("class_names") or [str(i) for i in range(class_count)])
    specs = {v.name: v.spec for v in collected.variants}
    variants = [_variant(v, specs.get(v.baseline or "", {}), labels, class_count, missing, collected)
                for v in collected.variants]
    comparisons = {metric: with_holm(_comparisons(variants, metric, higher))
                   for metric, higher in COMPARED.items()}
    samples = [v.kernel_sample for v in variants if v.kernel_sample is not None]
    edges = W.histogram_edges(samples)
    histograms = {v.name: W.histogram(v.kernel_sample, edges) for v in variants if v.kernel_sample is not None}
    sweeps = analyze_sweeps(collected)
    pairs = {v.name: v.baseline for v in variants if v.baseline and D.is_decay_pair(v.changes)}
    distances = D.pair_distances(collected.variants, pairs) if pairs else D.PairDistances({}, {}, None)
    analysis = Analysis(collected, variants, comparisons, class_names, _focus(variants, sweeps), edges, histograms,
                        missing, distances.final, distances.over_training, distances.buckets, sweeps)
    if analysis.per_layer:
        analysis.layer_edges, analysis.layer_histograms = _layer_histograms(variants)
    return analysis


def _layer_histograms(variants: list[VariantAnalysis]) -> tuple[dict, dict]:
    keys: dict[tuple[str, tuple[int, ...]], list[np.ndarray]] = {}
    for v in variants:
        for name, sample in v.layer_samples.items():
            keys.setdefault((name, W.keras_shape(sample)), []).append(sample)
    # A first convolution has a few hundred weights: fewer bins there, so that its histogram is not
    # mostly empty bins (about 2·sqrt(n), odd so one bin is centred on zero; at most the usual 81).
    edges = {key: W.histogram_edges([s.ravel() for s in samples],
                                    bins=min(W.HISTOGRAM_BINS, 2 * int(np.sqrt(max(s.size for s in samples))) | 1))
             for key, samples in keys.items()}
    counts = {v.name: {name: W.histogram(sample.ravel(), edges[(name, W.keras_shape(sample))])
                       for name, sample in v.layer_samples.items()} for v in variants if v.layer_samples}
    return edges, counts


def _focus(variants: list[VariantAnalysis], sweeps: list[SweepAnalysis]) -> str | None:
    """The variant whose errors the report shows: the hand-written variant of best mean test
    accuracy; in a study of sweeps only, the first sweep's point chosen on validation data (a
    sweep's point is never singled out by its test accuracy)."""
    swept = point_names(sweeps)
    candidates = [v for v in variants if v.confusion is not None and v.metrics["test_accuracy"].mean is not None]
    written = [v for v in candidates if v.name not in swept]
    if written:
        return max(written, key=lambda v: v.metrics["test_accuracy"].mean).name
    first_chosen = sweeps[0].chosen if sweeps else None
    if any(v.name == first_chosen for v in candidates):
        return first_chosen
    return candidates[0].name if candidates else None


def _variant(source: VariantRuns, baseline_spec: dict[str, Any], labels: np.ndarray | None, classes: int,
             missing: list[Missing], collected: Collected) -> VariantAnalysis:
    records = source.records
    completed = [r for r in records if r.status == COMPLETED and r.test_accuracy is not None]
    per_seed = _per_seed(completed)
    histories = [r.history for r in records]
    onsets = {r.seed: overfitting_onset([e.val_loss for e in r.history]) for r in records}
    longest = max(records, key=lambda r: len(r.history), default=None)
    analysis = VariantAnalysis(
        name=source.name, description=source.description, baseline=source.baseline, spec=source.spec,
        changes=_changes(source.spec, baseline_spec if source.baseline else {}), model=source.model,
        seeds=[r.seed for r in records], diverged=[r.seed for r in records if r.status != COMPLETED],
        per_seed=per_seed, metrics={k: t_interval(list(v.values()), bounds=BOUNDS.get(k)) for k, v in per_seed.items()},
        curves=curves(histories), onsets=onsets, onset=onset_spread(onsets),
        lr=[e.lr for e in longest.history] if longest else [],
        early_stopping={r.seed: {"best_epoch": r.best_epoch, "stopped_epoch": r.stopped_epoch}
                        for r in records if r.best_epoch is not None or r.stopped_epoch is not None},
    )
    for r in completed:
        last = r.history[-1] if r.history else None
        if last is not None and last.train_eval_loss is not None:
            analysis.norm_check[r.seed] = (last.train_eval_loss, last.train_loss)
        if any(e.max_norm_peak is not None for e in r.history):
            analysis.max_norm_peaks[r.seed] = [math.nan if e.max_norm_peak is None else e.max_norm_peak
                                               for e in r.history]
    _add_arrays(analysis, source, labels, classes, missing, collected.root)
    return analysis


def _per_seed(completed: list[RunRecord]) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {k: {} for k in (
        "test_accuracy", "test_loss", "final_train_loss", "final_val_loss", "best_val_loss", "best_val_epoch",
        "final_loss_gap", "final_accuracy_gap", "seconds")}
    for r in completed:
        val = np.array([e.val_loss for e in r.history], dtype=float)
        values = {"test_accuracy": r.test_accuracy, "test_loss": r.test_loss, "seconds": r.seconds}
        if r.history and np.all(np.isfinite(val)):
            last = r.history[-1]
            values.update(final_train_loss=last.train_loss, final_val_loss=last.val_loss,
                          best_val_loss=float(val.min()), best_val_epoch=int(val.argmin()),
                          final_loss_gap=last.val_loss - last.train_loss,
                          final_accuracy_gap=last.train_accuracy - last.val_accuracy)
        for key, value in values.items():
            if value is not None and np.isfinite(value):
                out[key][r.seed] = float(value)
    return out


def _changes(spec: dict[str, Any], baseline_spec: dict[str, Any]) -> list[str]:
    """Settings in which a variant differs from its baseline. Against no baseline: the techniques
    it switches on beyond the plain network (everything but the settings every variant has)."""
    if not baseline_spec:
        always = ("hidden", "epochs", "batch_size", "optimizer", "schedule", "activation", "init")
        return [k for k in spec if k not in NOT_SETTINGS and k not in always]
    keys = [k for k in spec if k not in NOT_SETTINGS] + [k for k in baseline_spec if k not in spec]
    return [k for k in keys if k not in NOT_SETTINGS and spec.get(k) != baseline_spec.get(k)]


def _add_arrays(analysis: VariantAnalysis, source: VariantRuns, labels: np.ndarray | None, classes: int,
                missing: list[Missing], root: Path) -> None:
    """One pass over the runs' .npz files: sparsity, a histogram sample, predictions and what they score."""
    shares: dict[str, list[float]] = {}
    hidden: list[float] = []
    scores: list[np.ndarray] = []
    confusion = None
    for stored in source.runs:
        if stored.record.status != COMPLETED:
            continue
        npz = stored.path.with_suffix(".npz")
        relative = str(npz.relative_to(root))
        try:
            arrays = stored.arrays()
        except Damaged as exc:
            missing.append(Missing("arrays", relative, exc.reason))
            continue
        for layer, share in W.layer_shares(arrays.weights).items():
            shares.setdefault(layer, []).append(share)
        if arrays.weights:
            hidden.append(W.hidden_share(arrays.weights))
            analysis.hidden_norms[stored.record.seed] = W.hidden_norm(arrays.weights)
            analysis.largest_unit_norms[stored.record.seed] = W.largest_unit_norm(arrays.weights)
            if analysis.kernel_sample is None:
                analysis.kernel_sample = W.all_kernel_values(arrays.weights)
                analysis.layer_samples = W.kernels(arrays.weights)
                analysis.first_filters = W.first_filters(arrays.weights)
        if labels is None:
            continue
        predictions = np.asarray(arrays.test_predictions)
        if predictions.shape != labels.shape or (predictions.size and not 0 <= predictions.min() <= predictions.max() < classes):
            missing.append(Missing("arrays", relative,
                                   f"{predictions.shape[0]} predictions for {labels.shape[0]} test labels"))
            continue
        analysis.predictions[stored.record.seed] = predictions
        cm = confusion_matrix(labels, predictions, classes)
        confusion = cm if confusion is None else confusion + cm
        scores.append(precision_recall_f1(cm))
    analysis.sparsity = {layer: t_interval(values, bounds=PROPORTION) for layer, values in shares.items()}
    analysis.hidden_sparsity = (t_interval([h for h in hidden if np.isfinite(h)], bounds=PROPORTION)
                                if hidden else None)
    if scores:
        mean = np.mean(scores, axis=0)
        analysis.per_class = {"precision": mean[0].tolist(), "recall": mean[1].tolist(), "f1": mean[2].tolist(),
                              "support": np.bincount(labels, minlength=classes).tolist()}
        analysis.confusion = confusion


def _comparisons(variants: list[VariantAnalysis], metric: str, higher: bool) -> list[PairedComparison]:
    by_name = {v.name: v for v in variants}
    out = []
    for v in variants:
        base = by_name.get(v.baseline or "")
        if base is None or base is v:
            continue
        out.append(paired_comparison(metric, v.name, base.name, v.per_seed[metric], base.per_seed[metric],
                                     higher_is_better=higher, bounds=DIFFERENCE_BOUNDS.get(metric)))
    return out


# scikit-learn's metrics, written out: importing scikit-learn took about 1 s of every report, for two
# functions of a few lines. tests/analysis check them against scikit-learn itself.
def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
    """sklearn.metrics.confusion_matrix(labels, predictions, labels=range(classes)): rows are the
    true class, columns the predicted one; values outside range(classes) are left out."""
    kept = (labels >= 0) & (labels < classes) & (predictions >= 0) & (predictions < classes)
    pairs = labels[kept].astype(np.int64) * classes + predictions[kept].astype(np.int64)
    return np.bincount(pairs, minlength=classes * classes).reshape(classes, classes)


def precision_recall_f1(confusion: np.ndarray) -> np.ndarray:
    """Per class (rows: precision, recall, F1), as precision_recall_fscore_support(...,
    zero_division=0)[:3] computes them, F1 as 2·tp / (true + predicted): the same float64 divisions,
    0 where a denominator is 0."""
    tp = np.diag(confusion)
    predicted, true = confusion.sum(axis=0), confusion.sum(axis=1)

    def divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
        safe = np.where(denominator == 0, 1, denominator)
        return np.where(denominator == 0, 0.0, numerator / safe)

    return np.array([divide(tp, predicted), divide(tp, true), divide(2.0 * tp, (true + predicted).astype(np.float64))])
