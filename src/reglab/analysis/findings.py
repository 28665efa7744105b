"""Findings in plain words, in English and Japanese, generated from the numbers.

Each finding holds the numbers its sentences show, rounded exactly as shown, so that every number
a reader sees can be found in findings.json. Terms follow the tutorial: 過学習, 正則化, 早期終了,
重み減衰, 学習率スケジューリング, ドロップアウト, バッチ正規化.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reglab.analysis import diagnostics as D
from reglab.analysis import trajectories as T
from reglab.analysis import weights as W
from reglab.analysis.analyze import Analysis, VariantAnalysis
from reglab.analysis.onset import OnsetSpread
from reglab.analysis.statistics import (ALPHA, BETTER, CONFIDENCE, INCONCLUSIVE, MIN_SEEDS, WORSE, PairedComparison,
                                        best_set)
from reglab.analysis.sweeps import point_names
from reglab.techniques import registry

# A resolved variant's settings that are not techniques, named as the tutorial names them; a
# technique's and a choice family's names are in their registrations (techniques/registry.Words).
SETTINGS: dict[str, tuple[str, str]] = {
    "model": ("architecture", "モデルの種類"),
    "conv": ("conv layers", "畳み込み層"),
    "width": ("residual width", "残差の幅"),
    "bidirectional": ("bidirectional", "双方向"),
    "hidden": ("layer sizes", "層の構成"),
    "epochs": ("epochs", "エポック数"),
    "batch_size": ("batch size", "バッチサイズ"),
    "sweep": ("sweep", "スイープ"),
}
PERCENT = round(CONFIDENCE * 100)


def technique(key: str, lang: str) -> str:
    words = registry.words(key)
    en, ja = words.name if words is not None else SETTINGS.get(key, (key, key))
    return ja if lang == "ja" else en


@dataclass
class Finding:
    kind: str
    variant: str | None
    en: str
    ja: str
    numbers: dict[str, Any] = field(default_factory=dict)
    verdict: str | None = None  # comparisons: statistics.BETTER, WORSE, NO_DIFFERENCE or INCONCLUSIVE

    def text(self, lang: str) -> str:
        return self.ja if lang == "ja" else self.en

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "variant": self.variant, "verdict": self.verdict, "numbers": self.numbers,
                "en": self.en, "ja": self.ja}


def findings(analysis: Analysis) -> list[Finding]:
    out: list[Finding] = []
    out += _best(analysis)
    out += _few_seeds(analysis)
    for v in analysis.variants:
        if v.baseline is None:
            out += _baseline_overfitting(v)
    accuracy = analysis.comparisons.get("test_accuracy", [])
    tested = sum(1 for c in accuracy if c.t_p is not None)
    # A sweep's points against its first point (the corner of its grid, a baseline by position only)
    # are read in the sweeps' own findings, against doing nothing; one sentence each here would be
    # dozens of comparisons with an arbitrary point. The tables keep them.
    swept = point_names(analysis.sweeps)
    within = [c for c in accuracy if c.variant in swept and c.baseline in swept]
    for c in accuracy:
        if c not in within:
            out.append(_comparison(c, analysis.variant(c.variant), analysis.variant(c.baseline), tested))
    if within:
        out.append(Finding(
            "sweep_comparisons", None,
            f"The sweeps' {len(within)} points are compared with each other in the sweeps' findings above, not "
            "here one by one against each sweep's first point (the table below lists those comparisons).",
            f"スイープの {len(within)} 個の点は上のスイープの項で比べています。ここでは各スイープの最初の点との個別の比較は"
            "述べません（下の表に載せています）。",
            {"points": len(within)}))
    for v in analysis.variants:
        out += _batch_norm(v)
        if not (v.name in swept and v.baseline in swept):  # against the grid's corner: other lr, other λ
            out += _weight_norm(v, analysis)
        out += _max_norm(v)
        out += _decay_pair(v, analysis)
        out += _sparsity(v, analysis)
        out += _early_stopping(v)
        out += _schedule(v)
        out += _diverged(v)
    return out


# ----------------------------------------------------------------------------- number formatting


def _round(value: float, digits: int) -> float:
    return round(float(value), digits)


def _points(fraction: float) -> tuple[float, int]:
    """Accuracy as percentage points: 1 decimal, or 2 below one point so small effects still show."""
    value = fraction * 100
    digits = 1 if abs(value) >= 1 else 2
    return _round(value, digits), digits


def _p(value: float) -> float:
    return float(f"{value:.2g}")


def _f(value: float, digits: int, sign: bool = False) -> str:
    """A number as shown: a typographic minus, and no sign at all on what rounds to zero ("0.00",
    never "−0.00" or "+0.00": a sign there would claim a direction the digits do not show)."""
    if round(value, digits) == 0:
        return f"{0.0:.{digits}f}"
    return f"{value:{'+' if sign else ''}.{digits}f}".replace("-", "−")


def seeds_en(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def every_seed_en(n: int) -> str:
    """'in its one seed', 'in both seeds', 'in all 5 seeds'."""
    return "in its one seed" if n == 1 else "in both seeds" if n == 2 else f"in all {n} seeds"


def every_seed_ja(n: int) -> str:
    return "1 シードで" if n == 1 else "2 シードとも" if n == 2 else f"{n} シードすべてで"


def some_seeds_en(k: int, n: int) -> str:
    """k of n seeds, in words where a number reads wrong ('in both seeds', never 'in 2 of 2 seeds')."""
    if k == n:
        return every_seed_en(n)
    if n == 2:
        return "in neither seed" if k == 0 else "in one of the two seeds"
    return f"in {k} of {seeds_en(n)}"


def some_seeds_ja(k: int, n: int) -> str:
    if k == n:
        return "2 シードの両方" if n == 2 else f"{n} シードすべて"
    return f"{n} シード中 {k} シード"


def no_seed_en(n: int) -> str:
    """'in either seed', 'in any of 5 seeds' (after a negative verb)."""
    return "in either seed" if n == 2 else f"in any of {n} seeds"


# ----------------------------------------------------------------------------- findings


def _best(analysis: Analysis) -> list[Finding]:
    """The variants not shown worse than the highest mean on test accuracy (statistics.best_set):
    a set, not the top of rounded means, and said to be read on test data, for reporting only."""
    # A sweep's points are left out: a sweep chooses its point on validation data (analysis/sweeps.py),
    # and naming the point with the highest TEST accuracy first would invite choosing on test data.
    swept = point_names(analysis.sweeps)
    scored = [v for v in analysis.variants if v.metrics["test_accuracy"].mean is not None and v.name not in swept]
    if not scored or (swept and len(scored) < 2):  # one variant beside a sweep is not a "highest" of anything
        return []
    chosen = best_set({v.name: v.per_seed["test_accuracy"] for v in scored})
    best = analysis.variant(chosen.top)
    acc = best.metrics["test_accuracy"].scaled(100)
    numbers: dict[str, Any] = {"test_accuracy_percent": _round(acc.mean, 1), "seeds": acc.n, "top": chosen.top}
    at_en, at_ja = f"{_f(acc.mean, 1)}%", f"{_f(acc.mean, 1)}%"
    if acc.low is not None:
        numbers |= {"ci_low_percent": _round(acc.low, 1), "ci_high_percent": _round(acc.high, 1),
                    "confidence_percent": PERCENT}
        at_en += f" ({PERCENT}% CI [{_f(acc.low, 1)}, {_f(acc.high, 1)}], {seeds_en(acc.n)})"
        at_ja += f"（{PERCENT}% 信頼区間 [{_f(acc.low, 1)}, {_f(acc.high, 1)}]、{acc.n} シード）"
    else:
        at_en += f" ({seeds_en(acc.n)})"
        at_ja += f"（{acc.n} シード）"
    en = f"Highest mean test accuracy: {chosen.top}, {at_en}."
    ja = f"平均テスト精度が最も高いのは {chosen.top} で {at_ja}。"
    if len(scored) > 1:
        numbers |= {"best_set": list(chosen.members), "comparisons": chosen.comparisons, "alpha": ALPHA}
        others = [name for name in chosen.members if name != chosen.top]
        untested = [name for name in others if chosen.p[name] is None]
        if not chosen.decided:
            numbers["min_seeds"] = MIN_SEEDS
            en += (f" Which variant is best is undecided: no variant can be shown worse than {chosen.top} with "
                   f"fewer than {MIN_SEEDS} paired seeds.")
            ja += f"どれが最良かは未決です。対応のあるシードが {MIN_SEEDS} 個未満では、{chosen.top} より悪いと示せるバリアントはありません。"
        else:
            rule_en = (f"one-sided paired t-tests against {chosen.top}, each at {ALPHA:g}/{chosen.comparisons}, "
                       f"Bonferroni; the set holds the truly best variant with {PERCENT}% confidence")
            rule_ja = (f"{chosen.top} との片側の対応のある t 検定、各 {ALPHA:g}/{chosen.comparisons}、Bonferroni 補正。"
                       f"この集合は真に最良のバリアントを {PERCENT}% の信頼度で含みます")
            if others:
                en += (f" The best is one of {', '.join(chosen.members)}: none of the others is shown worse than "
                       f"{chosen.top} ({rule_en}).")
                ja += (f"最良は {'、'.join(chosen.members)} のどれかで、決まりません。{chosen.top} 以外のこれらは "
                       f"{chosen.top} より悪いと示されませんでした（{rule_ja}）。")
            else:
                en += f" Every other variant is shown worse ({rule_en})."
                ja += f"ほかのバリアントはすべてこれより悪いと示されました（{rule_ja}）。"
            if untested:
                numbers["min_seeds"] = MIN_SEEDS
                en += f" {', '.join(untested)}: fewer than {MIN_SEEDS} seeds paired with {chosen.top}, so not tested."
                ja += f"{'、'.join(untested)} は {chosen.top} と対応のあるシードが {MIN_SEEDS} 個未満のため検定していません。"
    en += " Read on test data, for reporting only: choose a variant on validation data."
    ja += "テストデータで読んだ値で、報告のためだけのものです。バリアントの選択は検証データで行ってください。"
    return [Finding("best", chosen.top, en, ja, numbers)]


def _few_seeds(analysis: Analysis) -> list[Finding]:
    counts = [c.n for c in analysis.comparisons.get("test_accuracy", [])]
    if not counts or max(counts) >= MIN_SEEDS:
        return []
    n = max(counts)
    return [Finding(
        "few_seeds", None,
        f"Only {n} paired seed{'s' if n != 1 else ''} per comparison: every difference in this report is undecided, "
        f"whatever its interval. A verdict takes {MIN_SEEDS} or more (reglab run STUDY --seeds {MIN_SEEDS}).",
        f"比較に使える対応のあるシードが {n} 個しかないため、この報告の差はどれも判定できません。"
        f"判定には {MIN_SEEDS} 個以上が必要です（reglab run STUDY --seeds {MIN_SEEDS}）。",
        {"paired_seeds": n, "min_seeds": MIN_SEEDS},
    )]


def _onset_clause(v: VariantAnalysis, key: str, numbers: dict[str, Any], final: bool,
                  brief: bool = False) -> tuple[str, str]:
    """How one variant's validation loss behaved across its seeds, as a predicate in each language
    (Japanese: in the continuative form unless `final`, so that two clauses join). `brief` leaves out
    what the seeds that did not turn did."""
    spread: OnsetSpread = v.onset
    numbers |= {f"{key}_epochs": spread.epochs, f"{key}_seeds": spread.runs}
    if spread.turned == 0:
        if spread.runs == 1:
            return (f"did not turn upward within {spread.epochs} epochs in its one seed",
                    f"1 シードで {spread.epochs} エポック以内に上昇に転じ" + ("ませんでした" if final else "ず"))
        return (f"did not turn upward within {spread.epochs} epochs {no_seed_en(spread.runs)}",
                f"{spread.runs} シードのどれも {spread.epochs} エポック以内に上昇に転じ"
                + ("ませんでした" if final else "ず"))
    numbers |= {f"{key}_turned": spread.turned, f"{key}_onset_epoch": _round(spread.mean, 0)}
    at = f"{spread.mean:.0f}"
    if spread.std is not None and round(spread.std) > 0:  # "± 0" says nothing
        numbers[f"{key}_onset_std"] = _round(spread.std, 0)
        at += f" ± {spread.std:.0f}"
    if spread.turned == spread.runs or brief:
        if spread.turned < spread.runs:
            return (f"turned upward at epoch {at} in {spread.turned} of {spread.runs} seeds",
                    f"{spread.runs} シード中 {spread.turned} でエポック {at} から上昇に転じ" + ("ました" if final else ""))
        if spread.runs == 1:
            return (f"turned upward at epoch {at} in its one seed",
                    f"1 シードでエポック {at} から上昇に転じ" + ("ました" if final else ""))
        return (f"turned upward at epoch {at} {every_seed_en(spread.runs)}",
                f"{every_seed_ja(spread.runs)}エポック {at} から上昇に転じ" + ("ました" if final else ""))
    return (f"turned upward at epoch {at} in {spread.turned} of {spread.runs} seeds "
            f"(in the others not within {spread.epochs} epochs)",
            f"{spread.runs} シード中 {spread.turned} でエポック {at} から上昇に転じ" + ("ました" if final else "")
            + f"（残りのシードは {spread.epochs} エポック以内には転じず）")


def _baseline_overfitting(v: VariantAnalysis) -> list[Finding]:
    if v.onset.runs == 0:
        return []
    numbers: dict[str, Any] = {}
    en_clause, ja_clause = _onset_clause(v, "variant", numbers, final=True)
    en = f"{v.name} (a baseline): validation loss {en_clause}"
    ja = f"{v.name}（基準）: 検証損失は {ja_clause}"
    if v.onset.turned:
        en += "; past that epoch it overfits: training loss keeps falling while validation loss rises."
        ja += "。そこから先は過学習です（訓練損失は下がり続け、検証損失は上がります）。"
    else:
        en += "."
        ja += "。"
    gap = v.metrics.get("final_loss_gap")
    if gap is not None and gap.mean is not None:
        numbers["final_loss_gap"] = _round(abs(gap.mean), 3)
        en += (f" At the last epoch its validation loss was {abs(gap.mean):.3f} "
               f"{'above' if gap.mean >= 0 else 'below'} its training loss (the generalisation gap).")
        ja += (f"最後のエポックで検証損失は訓練損失より {abs(gap.mean):.3f} "
               f"{'大きく' if gap.mean >= 0 else '小さく'}なっています（汎化ギャップ）。")
    return [Finding("overfitting", v.name, en, ja, numbers)]


def _comparison(c: PairedComparison, v: VariantAnalysis | None, base: VariantAnalysis | None,
                comparisons: int = 1) -> Finding:
    """`comparisons`: how many comparisons Holm's adjustment spans (the study's, on this metric)."""
    changes = v.changes if v else []
    head_en = f"{c.variant} vs {c.baseline}" + (f" ({', '.join(technique(k, 'en') for k in changes)})" if changes else "")
    head_ja = f"{c.variant}（{c.baseline} との比較" + (
        f"、違い: {'、'.join(technique(k, 'ja') for k in changes)}" if changes else "") + "）"
    numbers: dict[str, Any] = {"paired_seeds": c.n}
    if c.n == 0:
        return Finding("comparison", c.variant, f"{head_en}: no seed was completed by both: nothing to compare.",
                       f"{head_ja}: 両方が完了したシードがないため、比較できません。", numbers, verdict=c.verdict)
    diff, digits = _points(c.difference.mean)
    numbers["difference_points"] = diff
    d = _f(diff, digits, sign=True)
    if all(x == 0 for x in c.differences):
        seeds = "in the one seed both completed" if c.n == 1 else every_seed_en(c.n)
        en = f"{head_en}: exactly the same test accuracy as {c.baseline} {seeds}."
        ja = f"{head_ja}: {every_seed_ja(c.n)} {c.baseline} とまったく同じテスト精度でした。"
    elif c.n == 1:
        en = f"{head_en}: {d} points test accuracy on the one seed both completed; one seed is no evidence."
        ja = f"{head_ja}: テスト精度 {d} ポイント（両方が完了したシードは 1 つだけ）。1 つのシードでは何も言えません。"
    else:
        low, high = _round(c.difference.low * 100, digits), _round(c.difference.high * 100, digits)
        numbers |= {"ci_low_points": low, "ci_high_points": high, "better_seeds": c.better,
                    "confidence_percent": PERCENT}
        # The interval is the paired t-test's, unadjusted; the verdict is Holm-adjusted across the
        # study's comparisons. Both are shown, each named, so that they never seem to disagree.
        unadjusted_en = unadjusted_ja = ""
        if comparisons > 1:
            numbers["comparisons"] = comparisons
            unadjusted_en = f" (not adjusted for the study's {comparisons} comparisons)"
            unadjusted_ja = f"（研究内の {comparisons} 個の比較についての補正なし）"
        en = (f"{head_en}: {d} points test accuracy, {PERCENT}% CI [{_f(low, digits)}, {_f(high, digits)}]"
              f"{unadjusted_en}, better {some_seeds_en(c.better, c.n)}; ")
        ja = (f"{head_ja}: テスト精度 {d} ポイント、{PERCENT}% 信頼区間 [{_f(low, digits)}, {_f(high, digits)}]"
              f"{unadjusted_ja}、上回ったのは {some_seeds_ja(c.better, c.n)}でした。")
        p = None if c.holm_p is None else _p(c.holm_p)
        if p is not None:
            numbers["holm_p"] = p
        excludes_zero = (low > 0 or high < 0) and comparisons > 1
        if c.verdict in (BETTER, WORSE):
            en += f"reliably {c.verdict} (paired t-test, Holm-adjusted p = {p:g})."
            ja += (f"偶然とは考えにくい{'改善' if c.verdict == BETTER else '悪化'}です"
                   f"（対応のある t 検定、Holm 補正後 p = {p:g}）。")
        else:
            if c.verdict == INCONCLUSIVE:
                numbers["min_seeds"] = MIN_SEEDS
                held_en = f"with {c.n} paired seeds (a verdict takes {MIN_SEEDS} or more"
                held_ja = f"対応のあるシードが {c.n} 個では判定できません（判定には {MIN_SEEDS} 個以上が必要"
                en += f"undecided {held_en}" + (f"; Holm-adjusted p = {p:g})." if p is not None else ").")
                ja += held_ja + (f"。Holm 補正後 p = {p:g}）。" if p is not None else "）。")
            else:
                en += (f"undecided (paired t-test, Holm-adjusted p = {p:g}): the seeds do not show a difference, "
                       "which is no evidence that there is none.")
                ja += (f"判定できません（対応のある t 検定、Holm 補正後 p = {p:g}）。シードは差を示していませんが、"
                       "差がないことの証拠でもありません。")
            if excludes_zero:
                en += " The interval excludes 0 only before that adjustment."
                ja += "信頼区間が 0 を含まないのは補正前だからです。"
    inert = _inert_decay(v, base)
    if inert is not None:
        numbers["hidden_norm_percent_of_baseline"] = inert
        en += (f" The decoupled decay left the hidden weights' norm at {inert:.1f}% of {c.baseline}'s: too weak to act "
               "at this learning rate, so this comparison says nothing about weight decay.")
        ja += (f"分離型の重み減衰のあとも隠れ層の重みのノルムは {c.baseline} の {inert:.1f}% で、この学習率では弱すぎて"
               "効いていません。この比較は重み減衰について何も示しません。")
    # The variant's onset, where it says something; the baseline's is said once, in its own finding.
    if v is not None and base is not None and v.onset.runs and base.onset.runs and (v.onset.turned or base.onset.turned):
        v_en, v_ja = _onset_clause(v, "variant", numbers, final=True, brief=True)
        en += f" Its validation loss {v_en}."
        ja += f"{v.name} の検証損失は {v_ja}。"
    return Finding("comparison", c.variant, en, ja, numbers, verdict=c.verdict)


def _sparsity(v: VariantAnalysis, analysis: Analysis) -> list[Finding]:
    if not ({"l1", "l1_l2"} & set(v.spec)) or v.hidden_sparsity is None or v.hidden_sparsity.mean is None:
        return []
    share = _round(v.hidden_sparsity.mean * 100, 1)
    numbers: dict[str, Any] = {"near_zero_percent": share, "threshold": W.NEAR_ZERO}
    en = f"{v.name}: {share:.1f}% of the hidden-layer weights are near zero (|w| < {W.NEAR_ZERO:g})"
    ja = f"{v.name}: 隠れ層の重みの {share:.1f}% がほぼゼロ（|w| < {W.NEAR_ZERO:g}）"
    base = analysis.variant(v.baseline) if v.baseline else None
    if base is not None and base.hidden_sparsity is not None and base.hidden_sparsity.mean is not None:
        other = _round(base.hidden_sparsity.mean * 100, 1)
        numbers["baseline_near_zero_percent"] = other
        en += f", against {other:.1f}% for {base.name}"
        ja += f"で、{base.name} では {other:.1f}% でした"
    en += ": the L1 penalty λ·Σ|w| pushes weights to zero (sparsity)."
    ja += "。L1正則化（λΣ|w|）は重みをゼロに押しやります（スパース性）。"
    return [Finding("sparsity", v.name, en, ja, numbers)]


def _early_stopping(v: VariantAnalysis) -> list[Finding]:
    if "early_stopping" not in v.spec or not v.seeds:
        return []
    n = len(v.seeds)
    stopped_runs = [s for s in v.early_stopping.values() if s["stopped_epoch"] is not None]
    if not stopped_runs:
        numbers = {"seeds": n, "epochs": v.onset.epochs}
        where_en, where_ja = ("its one seed", "1 シードで") if n == 1 else (no_seed_en(n).removeprefix("in "), f"{n} シードのどれでも、")
        return [Finding("early_stopping", v.name,
                        f"{v.name}: early stopping did not trigger in {where_en} within {v.onset.epochs} epochs.",
                        f"{v.name}: {where_ja}{v.onset.epochs} エポック以内に早期終了は働きませんでした。",
                        numbers)]
    # Both epochs over the same seeds (those that stopped), and the stopped epoch shown as the kept
    # epoch plus the lag, so that the two never round apart: 18.4 and 23.4 would show as 18 and 23,
    # but 18.6 and 23.6 as 19 and 24, and "stopped at 24, kept 18" with patience 5 reads as a bug.
    stopped = np.array([s["stopped_epoch"] for s in stopped_runs], dtype=float)
    best = np.array([s["best_epoch"] if s["best_epoch"] is not None else np.nan for s in stopped_runs])
    numbers: dict[str, Any] = {"stopped_seeds": len(stopped), "seeds": n}
    seeds_part_en = some_seeds_en(len(stopped), n)
    seeds_part_ja = f"{some_seeds_ja(len(stopped), n)}で"
    spread = f" ± {np.std(stopped, ddof=1):.0f}" if len(stopped) > 1 and round(np.std(stopped, ddof=1)) > 0 else ""
    if np.all(np.isfinite(best)):
        lags = stopped - best
        kept = round(float(np.mean(best)))
        lag = round(float(np.mean(lags)))
        kept_spread = f" ± {np.std(best, ddof=1):.0f}" if len(best) > 1 and round(np.std(best, ddof=1)) > 0 else ""
        numbers |= {"best_epoch": kept, "stopped_epoch": kept + lag, "epochs_after_best": lag}
        if kept_spread:
            numbers["best_epoch_std"] = _round(np.std(best, ddof=1), 0)
        same = " each time" if np.all(lags == lags[0]) and len(lags) > 1 else ""
        en = (f"{v.name}: early stopping kept the weights of epoch {kept}{kept_spread}, where validation loss was "
              f"lowest, and ended training {lag} epoch{'s' if lag != 1 else ''} later{same} (after epoch "
              f"{kept + lag}), {seeds_part_en}.")
        ja = (f"{v.name}: 早期終了は {seeds_part_ja}、検証損失が最も低かったエポック {kept}{kept_spread} の重みを残し、"
              f"その {lag} エポック後（エポック {kept + lag} の後）に訓練を止めました。")
        return [Finding("early_stopping", v.name, en, ja, numbers)]
    numbers["stopped_epoch"] = _round(np.mean(stopped), 0)
    at = f"{np.mean(stopped):.0f}{spread}"
    return [Finding("early_stopping", v.name,
                    f"{v.name}: early stopping ended training after epoch {at} {seeds_part_en}.",
                    f"{v.name}: 早期終了により、{seeds_part_ja}エポック {at} の後に訓練を止めました。", numbers)]


def _schedule(v: VariantAnalysis) -> list[Finding]:
    schedule = v.spec.get("schedule") or {}
    name = schedule.get("name")
    if not v.lr or (name in (None, "constant") and len(set(v.lr)) == 1):
        return []
    first, last = float(f"{v.lr[0]:.3g}"), float(f"{v.lr[-1]:.3g}")
    numbers: dict[str, Any] = {"lr_first": first, "lr_last": last, "epochs": len(v.lr)}
    kind = f"{name} " if name else ""
    if first == last:  # the schedule changes the rate only after the epochs trained
        en = (f"{v.name}: its {kind}learning-rate schedule kept the learning rate at {first:g} for all "
              f"{len(v.lr)} epochs trained.")
        ja = (f"{v.name}: 学習率スケジューリング（{kind.strip() or '-'}）では、訓練した {len(v.lr)} エポックの間、"
              f"学習率は {first:g} のままでした。")
    else:
        en = (f"{v.name}: its {kind}learning-rate schedule took the learning rate from {first:g} to {last:g} "
              f"over {len(v.lr)} epochs.")
        ja = (f"{v.name}: 学習率スケジューリング（{kind.strip() or '-'}）により、学習率は {len(v.lr)} エポックで "
              f"{first:g} から {last:g} に変わりました。")
    unreached = _unreached_steps(schedule, len(v.lr))
    if unreached:
        numbers["unreached"] = [{"from_epoch": b, "lr": value} for b, value in unreached]
        steps_en = "; ".join(f"{value:g} from epoch {b}" for b, value in unreached)
        steps_ja = "、".join(f"エポック {b} からの {value:g}" for b, value in unreached)
        en += (f" The schedule's later step{'s' if len(unreached) > 1 else ''} ({steps_en}) {'were' if len(unreached) > 1 else 'was'}"
               f" never reached: the run trained epochs 0–{len(v.lr) - 1}.")
        ja += f"スケジュールの後の段階（{steps_ja}）には到達していません（訓練したのはエポック 0〜{len(v.lr) - 1}）。"
    return [Finding("schedule", v.name, en, ja, numbers)]


def _unreached_steps(schedule: dict[str, Any], epochs: int) -> list[tuple[int, float]]:
    """A step schedule's (first epoch, rate) pairs that begin at or after the last epoch trained:
    the description promises them, the run never saw them."""
    if schedule.get("name") != "step" or schedule.get("unit", "epoch") != "epoch":
        return []
    boundaries, values = list(schedule.get("boundaries") or []), list(schedule.get("values") or [])
    return [(int(b), float(values[i + 1])) for i, b in enumerate(boundaries) if b >= epochs and i + 1 < len(values)]


def _diverged(v: VariantAnalysis) -> list[Finding]:
    if not v.diverged:
        return []
    k, n = len(v.diverged), len(v.seeds)
    return [Finding(
        "diverged", v.name,
        f"{v.name}: {k} of {n} runs diverged (the loss became NaN or infinite); they are left out of the means.",
        f"{v.name}: {n} 回中 {k} 回の学習が発散しました（損失が NaN または無限大）。平均からは除いています。",
        {"diverged": k, "runs": n})]


def _inert_decay(v: VariantAnalysis | None, base: VariantAnalysis | None) -> float | None:
    """The hidden-weight norm in % of the baseline's when decoupled decay is what differs and it
    changed that norm by less than diagnostics.INERT_SHARE; else None."""
    if v is None or base is None or "weight_decay" not in v.changes or "weight_decay" not in v.spec:
        return None
    if any(k in base.spec for k in ("l2", "l1_l2", "weight_decay")):
        return None  # against a baseline that shrinks its weights too, an equal norm is no sign of weakness
    ratio = D.norm_ratio(v.hidden_norms, base.hidden_norms)
    if ratio is None or abs(ratio[0] - 1) >= D.INERT_SHARE:
        return None
    return _round(ratio[0] * 100, 1)


def _batch_norm(v: VariantAnalysis) -> list[Finding]:
    lag = D.norm_lag(v.norm_check)
    if lag is None or lag.lagging * 2 < lag.runs:  # silent unless most seeds lag
        return []
    norm = v.spec.get("batch_norm") or {}
    momentum = norm.get("momentum")
    if momentum is not None and norm.get("convention") == "keras":  # older studies stored PyTorch's alone
        momentum = round(1 - momentum, 12)
    numbers: dict[str, Any] = {"lagging_seeds": lag.lagging, "seeds": lag.runs,
                               "train_eval_loss": _round(lag.eval_loss, 3), "train_loss": _round(lag.train_loss, 3),
                               "lag_ratio": D.LAG_RATIO}
    if momentum is not None:
        numbers["momentum_pytorch"] = momentum
    seeds = f"in {lag.lagging} of {seeds_en(lag.runs)}" if lag.runs > 1 else "in its one seed"
    keras = f" (Keras momentum {1 - momentum:g}, PyTorch {momentum:g})" if momentum is not None else ""
    keras_ja = f"（Keras の momentum {1 - momentum:g}、PyTorch の {momentum:g}）" if momentum is not None else ""
    en = (f"{v.name}: batch norm's running statistics lag behind the data {seeds}: at the last epoch the loss on "
          f"training images in evaluation mode (running statistics) was {lag.eval_loss:.3f}, against "
          f"{lag.train_loss:.3f} while training (batch statistics). The running averages move too slowly{keras} "
          "for the few steps of this run, so validation and test use stale statistics: the high validation loss "
          "is this lag, not overfitting. A faster momentum, more steps or a larger training set fixes it.")
    ja = (f"{v.name}: バッチ正規化の移動平均の統計量がデータに追いついていません（{lag.runs} シード中 {lag.lagging}）。"
          f"最後のエポックで、訓練画像の評価モード（移動平均を使用）での損失は {lag.eval_loss:.3f}、訓練中（バッチの統計量を使用）"
          f"は {lag.train_loss:.3f} でした。この実行のステップ数に対して移動平均の更新が遅すぎる{keras_ja}ため、検証とテストは"
          "古い統計量で計算されています。検証損失が高いのは過学習ではなく、この遅れのためです。momentum を速くする、"
          "ステップ数や訓練データを増やすと解消します。")
    return [Finding("batch_norm_lag", v.name, en, ja, numbers)]


def _weight_norm(v: VariantAnalysis, analysis: Analysis) -> list[Finding]:
    """What a penalty or a decay did to the weights: the final hidden-weight norm against the baseline's."""
    acting = [k for k in ("l2", "weight_decay", "l1_l2") if k in v.changes and k in v.spec]
    base = analysis.variant(v.baseline) if v.baseline else None
    if not acting or base is None or D.is_decay_pair(v.changes):
        return []
    ratio = D.norm_ratio(v.hidden_norms, base.hidden_norms)
    if ratio is None or (acting == ["weight_decay"] and _inert_decay(v, base) is not None):
        return []  # an inert decay is said in its comparison
    percent = _round(ratio[0] * 100, 1)
    what_en = " and ".join(technique(k, "en") for k in acting)
    what_ja = "・".join(technique(k, "ja") for k in acting)
    numbers = {"hidden_norm_percent_of_baseline": percent, "paired_seeds": ratio[1]}
    en = f"{v.name}: its {what_en} left the hidden weights' norm at {percent:.1f}% of {base.name}'s"
    ja = f"{v.name}: {what_ja}により、隠れ層の重みのノルムは {base.name} の {percent:.1f}% になりました"
    if abs(ratio[0] - 1) < D.INERT_SHARE:
        en += " (mean over the paired seeds): too weak to change the weights at this learning rate and run length."
        ja += "（対応のあるシードの平均）。この学習率と訓練の長さでは弱すぎて、重みはほとんど変わっていません。"
    else:
        en += f" (mean over the paired seeds): the weights {'shrank' if ratio[0] < 1 else 'grew'}."
        ja += "（対応のあるシードの平均）。" + ("重みを小さくしました。" if ratio[0] < 1 else "重みは大きくなりました。")
    return [Finding("weight_norm", v.name, en, ja, numbers)]


def _max_norm(v: VariantAnalysis) -> list[Finding]:
    """Whether a max-norm constraint acted, and from when: from the peaks both engines record per
    epoch (EpochRecord.max_norm_peak); runs stored before them are judged from the final weights."""
    limit = (v.spec.get("max_norm") or {}).get("max_value")
    if limit is None:
        return []
    use = D.max_norm_use(v.max_norm_peaks)
    if use is None:
        return _max_norm_from_final_weights(v, limit)
    reached = _round(use.largest * 100, 1)
    numbers: dict[str, Any] = {"max_value": limit, "largest_percent_of_limit": reached, "seeds": use.runs,
                               "acted_seeds": use.acted, "epochs": use.epochs}
    if not use.acted:
        where_en = every_seed_en(use.runs).removeprefix("in ")
        return [Finding(
            "max_norm_idle", v.name,
            f"{v.name}: the max-norm constraint never acted: over the {use.epochs} epochs of {where_en}, the largest "
            f"norm of a hidden unit's incoming weights before projection reached {reached:.1f}% of the limit "
            f"{limit:g}, so nothing was ever projected and this variant trained as it would have without it. "
            "A limit below that norm would act.",
            f"{v.name}: 最大ノルム制約は一度も働きませんでした。{use.runs} シードの {use.epochs} エポックを通じて、"
            f"射影の前の隠れユニットの入力側の重みのノルムは最大でも上限 {limit:g} の {reached:.1f}% で、射影は一度も"
            "起きず、このバリアントは制約なしと同じように訓練されました。このノルムより小さい上限なら働きます。",
            numbers)]
    first, last = min(use.first_epochs), max(use.first_epochs)
    numbers |= {"first_epoch": first, "first_epoch_latest": last}
    when = f"epoch {first}" if first == last else f"epochs {first}–{last}"
    when_ja = f"エポック {first}" if first == last else f"エポック {first}〜{last}"
    seeds_part = ("in its one seed" if use.runs == 1 else
                  every_seed_en(use.runs) if use.acted == use.runs else f"in {use.acted} of {use.runs} seeds")
    seeds_ja = ("1 シードで" if use.runs == 1 else
                every_seed_ja(use.runs) if use.acted == use.runs else f"{use.runs} シード中 {use.acted} シードで")
    return [Finding(
        "max_norm_acted", v.name,
        f"{v.name}: the max-norm constraint acted {seeds_part}, first at {when}: whenever a step took a hidden "
        f"unit's incoming weights past the limit {limit:g} it scaled them back (the largest norm before projection "
        f"was {reached:.1f}% of the limit).",
        f"{v.name}: 最大ノルム制約は {seeds_ja}働き、最初に働いたのは{when_ja} でした。ステップで隠れユニットの入力側の重みの"
        f"ノルムが上限 {limit:g} を超えるたびに上限まで縮めました（射影の前のノルムは最大で上限の {reached:.1f}%）。",
        numbers)]


def _max_norm_from_final_weights(v: VariantAnalysis, limit: float) -> list[Finding]:
    """Runs stored before the per-epoch peaks: only the final weights tell, and only when no unit
    ended at the limit (a unit at the limit at the end may or may not have been projected)."""
    if not v.largest_unit_norms:
        return []
    largest = max(v.largest_unit_norms.values())
    if largest >= limit * (1 - 1e-3):
        return []
    numbers = {"max_value": limit, "largest_unit_norm": _round(largest, 2), "seeds": len(v.largest_unit_norms)}
    return [Finding(
        "max_norm_idle", v.name,
        f"{v.name}: no hidden unit's incoming weights reached the max-norm limit {limit:g} by the end of training "
        f"(largest norm {largest:.2f}, over {seeds_en(len(v.largest_unit_norms))}): the constraint was not acting, "
        "and this variant trained as it would have without it. A limit below that norm would act.",
        f"{v.name}: 訓練の終わりまでに、入力側の重みのノルムが最大ノルム制約の上限 {limit:g} に達した隠れユニットは"
        f"ありません（最大 {largest:.2f}、{len(v.largest_unit_norms)} シード）。制約は働いておらず、このバリアントは制約なしと"
        "同じように訓練されました。このノルムより小さい上限なら働きます。",
        numbers)]


def _decay_pair(v: VariantAnalysis, analysis: Analysis) -> list[Finding]:
    """The weight-decay lesson: L2 in the loss against decoupled decay, run for run (same seed, same start)."""
    distances = analysis.pair_distances.get(v.name)
    base = analysis.variant(v.baseline) if v.baseline else None
    if not distances or base is None:
        return []
    values = np.array(list(distances.values()))
    mean = float(values.mean())
    optimizer = (v.spec.get("optimizer") or {}).get("name", "?")
    specs = (v.spec, base.spec)
    l2 = next((s["l2"].get("strength") for s in specs if isinstance(s.get("l2"), dict)), None)
    rate = next((s["weight_decay"].get("rate") for s in specs if isinstance(s.get("weight_decay"), dict)), None)
    numbers = {"relative_distance": float(f"{mean:.2g}"), "seeds": len(values), "same_run_below": D.SAME_RUN,
               "optimizer": optimizer, "l2": l2, "decay": rate}
    shown = f"{mean * 100:.2g}%"
    head_en = (f"{v.name} and {base.name} ({optimizer}): their final hidden weights differ by {shown} of their norm "
               f"(mean over {seeds_en(len(values))}; each seed starts both from the same weights and batches)")
    head_ja = (f"{v.name} と {base.name}（{optimizer}）: 最終的な隠れ層の重みの差はノルムの {shown} です（{len(values)} シードの平均。"
               "シードごとに両者は同じ初期重みと同じミニバッチから始まります）")
    # Plain SGD: w - lr·(g + 2λw) = w·(1 - lr·2λ) - lr·g, so L2 λ is decoupled decay 2λ exactly.
    equivalent = optimizer == "sgd" and l2 is not None and rate is not None and math.isclose(rate, 2 * l2)
    if mean < D.SAME_RUN:
        en = (f"{head_en}: float rounding, the same run. With plain SGD an L2 penalty λ and decoupled weight decay "
              "2λ are one update.")
        ja = f"{head_ja}。浮動小数点の丸め誤差で、同じ実行です。素の SGD では L2正則化 λ と分離型の重み減衰 2λ は同じ更新になります。"
    elif optimizer == "sgd" and l2 is not None and rate is not None and not equivalent:
        en = (f"{head_en}. With plain SGD, L2 λ = {l2:g} matches decoupled decay {2 * l2:g}; this pair uses {rate:g}, so "
              "they differ by strength alone (PyTorch's weight_decay = λ is Keras's L2 with λ/2).")
        ja = (f"{head_ja}。素の SGD では L2正則化 λ = {l2:g} は分離型の重み減衰 {2 * l2:g} と同じですが、この組は {rate:g} なので、"
              "違いは強さだけによるものです（PyTorch の weight_decay = λ は Keras の L2 の λ/2）。")
    elif equivalent:
        en = f"{head_en}, though with plain SGD these strengths are one update: more than float rounding explains."
        ja = f"{head_ja}。素の SGD ではこの強さは同じ更新のはずで、浮動小数点の丸めでは説明できない差です。"
    else:
        en = (f"{head_en}: with {optimizer} an L2 penalty and decoupled weight decay are different regularizers, "
              "because the optimizer rescales the penalty's gradient and not the decay (Loshchilov & Hutter).")
        ja = (f"{head_ja}。{optimizer} では L2正則化と分離型の重み減衰は別の正則化です。最適化アルゴリズムはペナルティの勾配を"
              "スケールし直しますが、減衰はスケールしないためです（Loshchilov & Hutter）。")
    over_en, over_ja = _pair_over_training(analysis, v.name, numbers)
    return [Finding("decay_pair", v.name, en + over_en, ja + over_ja, numbers)]


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.2g}%"


def _pair_over_training(analysis: Analysis, name: str, numbers: dict[str, Any]) -> tuple[str, str]:
    """The pair's distance at every epoch, from the runs' weight sketches: a sentence in each
    language (empty for runs stored before the sketches)."""
    per_seed = analysis.pair_trajectories.get(name)
    if not per_seed or not analysis.sketch_buckets:
        return "", ""
    mean = T.band_over_seeds(per_seed).mean
    if not np.isfinite(mean).any():
        return "", ""
    epochs = int(np.max(np.nonzero(np.isfinite(mean))[0])) + 1
    mean = mean[:epochs]
    peak_epoch = int(np.nanargmax(mean))
    first, last, peak = float(mean[0]), float(mean[-1]), float(mean[peak_epoch])
    error = round(2 * T.relative_std(analysis.sketch_buckets) * 100)
    numbers |= {"distance_first_epoch": float(f"{first:.2g}"), "distance_last_epoch": float(f"{last:.2g}"),
                "distance_largest": float(f"{peak:.2g}"), "distance_largest_epoch": peak_epoch,
                "distance_epochs": epochs, "sketch_buckets": analysis.sketch_buckets,
                "sketch_error_percent": error}
    how_en = (f"mean over seeds, estimated at each epoch's end from {analysis.sketch_buckets}-bucket sketches of "
              f"the weights: a seed's value is typically within ±{error}% of the exact distance")
    how_ja = (f"シードの平均。各エポックの終わりに重みの {analysis.sketch_buckets} バケットのスケッチから推定した値で、"
              f"1 シードの値と正確な距離との差は通常 ±{error}% 以内")
    if peak < D.SAME_RUN:
        return (f" Over training the distance stayed at most {_percent(peak)} in every one of the {epochs} epochs "
                f"({how_en}).",
                f"訓練中も、{epochs} エポックのどこでも距離は最大 {_percent(peak)} でした（{how_ja}）。")
    verb_en, verb_ja = ("grew", "大きくなりました") if last > 1.5 * first else ("went", "変わりました")
    peak_en = f", largest {_percent(peak)} at epoch {peak_epoch}" if peak_epoch != epochs - 1 else ""
    peak_ja = f"最大はエポック {peak_epoch} の {_percent(peak)}。" if peak_epoch != epochs - 1 else ""
    return (f" Over training the distance {verb_en} from {_percent(first)} after epoch 0 to {_percent(last)} after "
            f"epoch {epochs - 1}{peak_en} ({how_en}).",
            f"訓練中の距離は、エポック 0 の後の {_percent(first)} からエポック {epochs - 1} の後の {_percent(last)} へと"
            f"{verb_ja}（{peak_ja}{how_ja}）。")

