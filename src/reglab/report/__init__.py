"""The report of a run directory: report.html (one self-contained file), the figures as PNG files
beside it, and findings.json with the numbers behind every sentence. Reads stored results only:
no torch, no engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reglab.analysis import weights as W
from reglab.analysis.analyze import Analysis, analyze
from reglab.analysis.collect import collect
from reglab.analysis.findings import Finding, findings
from reglab.analysis.onset import RISE_MARGIN, SMOOTHING_WIDTH
from reglab.analysis.statistics import ALPHA, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE, MIN_SEEDS
from reglab.errors import ReglabError, StorageError
from reglab.report import explain_figures, figures, html, sweep_figures, sweep_text
from reglab.report.i18n import LANGS, default_lang, t
from reglab.store import RunStore
from reglab.store.atomic import json_safe
from reglab.store.files import RunFiles

FORMAT = "reglab-findings/1"

__all__ = ["FORMAT", "default_lang", "write_report"]


def write_report(run_dir: Path | str, out_dir: Path | str | None = None, lang: str = "en",
                 notify: Callable[[str], None] | None = None) -> Path:
    """Writes the report of `run_dir` into `out_dir` (default RUN_DIR/report) and returns the path
    of report.html. What is missing or damaged in the run directory is listed in the report and
    passed, one line each, to `notify`. Raises ReglabError for a directory that is not a run."""
    if lang not in LANGS:
        raise ReglabError(f"--lang {lang!r} is not known: use one of {', '.join(LANGS)}.")
    store = RunStore.open(Path(run_dir))
    analysis = analyze(collect(store))
    found = findings(analysis)
    # The default folder is inside the run directory: written without following a link there.
    # A folder the user names is theirs: it is the root of what is written.
    out = Path(out_dir) if out_dir is not None else store.root / "report"
    files = RunFiles(out) if out_dir is not None else RunFiles(store.root)
    try:
        if out_dir is not None:
            out.mkdir(parents=True, exist_ok=True)
        _write(files, out, analysis, found, lang)
    except (OSError, StorageError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else exc.reason
        raise ReglabError(f"cannot write the report into {out}: {reason}. "
                          "Fix: pass --out with a directory you can write to.") from None
    for missing in analysis.missing:
        if notify:
            detail = t("en", "detail_in_progress") if missing.detail == "in_progress" else missing.detail
            notify(f"{missing.path}: {t('en', f'missing_{missing.kind}')}" + (f" ({detail})" if detail else ""))
    return out / "report.html"


def _write(files: RunFiles, out: Path, analysis: Analysis, found: list[Finding], lang: str) -> None:
    pngs = figure_pngs(analysis, lang)
    for name in figures.FIGURES:
        if name not in pngs:
            files.unlink(out / f"{name}.png")  # a figure of an earlier report would mislead
    for name, data in pngs.items():
        files.write_bytes(out / f"{name}.png", data)
    files.write_bytes(out / "findings.json", _json_text(findings_json(analysis, found, lang)))
    files.write_bytes(out / "report.html", html.render(analysis, found, pngs, lang).encode("utf-8"))


def _json_text(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def figure_pngs(analysis: Analysis, lang: str) -> dict[str, bytes]:
    """Every figure there is something to draw for, as PNG, by name (in the report's order), the
    sweeps' last."""
    drawn = figures.render_all(analysis, lang)
    return ({name: data for name, data in drawn.items() if data is not None} | _sweep_pngs(analysis, lang)
            | _explain_pngs(analysis, lang))


def _explain_pngs(analysis: Analysis, lang: str) -> dict[str, bytes]:
    """first_units.png (an MLP's first layer) and maps_<method>.png for each stored method."""
    makers = {"first_units": explain_figures.first_units}
    explained = analysis.collected.explanations
    methods = explained.get("methods") if isinstance(explained, dict) else None
    for method in methods if isinstance(methods, dict) else ():
        makers[f"maps_{method}"] = lambda a, l, m=method: explain_figures.attribution_maps(a, l, m)
    drawn = analysis.as_drawn()  # a large sweep: its landmarks only, as the other per-variant figures
    out = {}
    for name, make in makers.items():
        data = figures.png(make, drawn, lang)
        if data is not None:
            out[name] = data
    return out


def _sweep_pngs(analysis: Analysis, lang: str) -> dict[str, bytes]:
    """sweep_N.png for each one-factor sweep, sweep_heatmaps.png for the two-factor ones."""
    makers = {f"sweep_{i + 1}": (lambda a, l, sw=sw: sweep_figures.one_factor(sw, l))
              for i, sw in enumerate(analysis.sweeps)}
    makers["sweep_heatmaps"] = lambda a, l: sweep_figures.heatmaps(a.sweeps, l)
    out = {}
    for name, make in makers.items():
        data = figures.png(make, analysis, lang)
        if data is not None:
            out[name] = data
    return out


def findings_json(analysis: Analysis, found: list[Finding], lang: str) -> dict[str, Any]:
    collected = analysis.collected
    return json_safe({
        "format": FORMAT,
        "study": collected.study.get("name") or collected.manifest.get("study"),
        "dataset": collected.data.get("dataset"),
        "run_dir": str(collected.root),
        "language": lang,
        "seeds": collected.seeds,
        "definitions": {
            "confidence": CONFIDENCE, "alpha": ALPHA, "min_seeds_for_a_verdict": MIN_SEEDS,
            "interval": "t interval of the mean across seeds",
            "comparison": "paired by seed; paired t-test (verdict, Holm-adjusted across the study) and Wilcoxon "
                          "signed-rank, both two-sided; effect size d_z = mean / sd of the differences",
            "bootstrap": {"method": "percentile", "resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED},
            "overfitting_onset": {"smoothing": "centred moving average", "width": SMOOTHING_WIDTH,
                                  "rise_margin": RISE_MARGIN, "epochs_counted_from": 0},
            "near_zero_weight": W.NEAR_ZERO,
            "accuracy_points": "differences of accuracy in percentage points",
        },
        "findings": [f.to_json() for f in found],
        "sweeps": [sw.to_json() | {"findings": sweep_text.findings([sw], lang)} for sw in analysis.sweeps],
        "comparisons": {metric: [c.to_json() for c in items] for metric, items in analysis.comparisons.items()},
        "focus_variant": analysis.focus,
        "class_names": analysis.class_names,
        "confused_pairs": analysis.confused_pairs(),
        # The L2/decay pairs: per variant (its baseline is the other run), per seed, the relative distance
        # of the final weights (exact) and per epoch (estimated from the weight sketches; docs/report.md).
        "pair_distances": {
            name: {"final": {str(s): d for s, d in analysis.pair_distances[name].items()},
                   "per_epoch": {str(s): list(c) for s, c in analysis.pair_trajectories.get(name, {}).items()},
                   "sketch_buckets": analysis.sketch_buckets}
            for name in analysis.pair_distances},
        "variants": [v.to_json() for v in analysis.variants],
        "missing": [m.to_json() | {"en": t("en", f"missing_{m.kind}"), "ja": t("ja", f"missing_{m.kind}")}
                    for m in analysis.missing],
    })
