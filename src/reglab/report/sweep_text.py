"""The sweep section of the report: its words in English and Japanese, the findings in plain words,
and the HTML. Strings are trusted text; values from a run directory are escaped by html.tag."""

from __future__ import annotations

import math
from typing import Any

from reglab.analysis.statistics import Interval
from reglab.analysis.sweeps import MIN_SEEDS_ONE_SE, ONE_SE, OVERFITTING, REGIME_MARGIN, RESAMPLES, UNDERFITTING, \
    SweepAnalysis, SweepPoint, _key, strength_order
from reglab.techniques import registry

STRINGS: dict[str, tuple[str, str]] = {
    "sec_sweeps": ("Sweeps: which strength?", "スイープ: どの強さがよいか"),
    "accuracy_axis": ("accuracy (%)", "精度 (%)"),
    "loss_axis": ("loss", "損失"),
    "train_accuracy": ("training accuracy", "訓練精度"),
    "val_accuracy": ("validation accuracy", "検証精度"),
    "test_accuracy": ("test accuracy", "テスト精度"),
    "train_loss": ("training loss", "訓練損失"),
    "val_loss": ("validation loss", "検証損失"),
    "val_accuracy_cell": ("validation accuracy (%)", "検証精度 (%)"),
    "gap_cell": ("gap: training − validation accuracy (points)", "汎化ギャップ: 訓練 − 検証精度 (ポイント)"),
    "underfitting": ("underfitting", "過少適合"),
    "good": ("within one SE", "1 SE 以内"),
    "overfitting": ("overfitting", "過学習"),
    "chosen_mark": (" recommended: {value}", " 推奨: {value}"),
    "undecided_mark": (" lowest: {value} (undecided)", " 最良: {value}（未決定）"),
    "se_line": ("best + 1 SE", "最良 + 1 SE"),
    "se_line_acc": ("best − 1 SE", "最良 − 1 SE"),
    "sweep_title": ("{name}: mean over {n} seeds with 95% band; one-SE rule on {choose}",
                    "{name}: {n} シードの平均と 95% 区間; {choose}に 1 標準誤差ルール"),
    "sweep_title_best": ("{name}: mean over {n} seeds with 95% band; best {choose}",
                         "{name}: {n} シードの平均と 95% 区間; {choose}が最良の点"),
    "sweep_title_undecided": ("{name}: {seeds}, undecided (the one-SE rule needs {min})",
                              "{name}: {seeds}、未決定（1 標準誤差ルールには {min} シード必要）"),
    "heatmap_title": ("Two-factor sweeps, mean over {n} seeds; the boxed cell is the one recommended on validation data",
                      "2 因子スイープ ({n} シードの平均)。枠のセルが検証データで推奨した点"),
    "one_caption": ("Left: accuracy on training, validation and test data; right: loss; each a mean over seeds with "
                    "a 95% band that stays in range (docs/report.md). The dashed vertical line is the recommended "
                    "point; the dotted horizontal line, one standard error from the best, bounds the one-SE band; "
                    "shading shows the regimes, read from the accuracies (definitions in 'How the numbers are "
                    "computed'). Metrics are those of the last epoch trained; test accuracy is drawn for reading "
                    "only and never used to choose.",
                    "左: 訓練・検証・テストの精度、右: 損失。いずれもシード間の平均と、値の範囲からはみ出さない 95% 区間"
                    "（docs/report.md）。縦の破線は推奨点、横の点線は最良から 1 標準誤差の位置で、1 SE 帯の境界です。"
                    "塗り分けは精度から読んだ領域（定義は「数値の求め方」）。値は最後に学習したエポックのもの。"
                    "テスト精度は参考のために描くだけで、選択には使っていません。"),
    "heat_caption": ("Top: mean validation accuracy per cell; bottom: the generalisation gap (training minus "
                     "validation accuracy). Each row shares one colour scale across sweeps, so cells side by side "
                     "compare directly.",
                     "上: セルごとの検証精度の平均、下: 汎化ギャップ（訓練精度 − 検証精度）。行ごとに色の尺度を"
                     "共有しているので、横に並んだセルはそのまま比べられます。"),
    # ---- the findings, in the order they are said
    "disagree": ("{name}: validation loss and validation accuracy point to different settings: the one-SE rule "
                 "gives {a} on validation loss and {b} on validation accuracy; this sweep recommends {chosen}, as "
                 "it chooses on {choose}.",
                 "{name}: 検証損失と検証精度が別の設定を指しています。1 標準誤差ルールは検証損失では {a}、"
                 "検証精度では {b} を選びます。このスイープは{choose}で選ぶので推奨は {chosen} です。"),
    "disagree_why": ("Why they differ: accuracy counts right answers, while the loss (cross-entropy) also scores "
                     "how much probability the network puts on the right class, so it rewards confidence. "
                     "Regularization (L2, label smoothing, to a degree dropout) makes the network less confident "
                     "(closer to calibrated), which lowers the loss of its mistakes even where it picks the same "
                     "classes. "
                     "Choose on accuracy if you use the predicted class, on the loss if you use the probabilities "
                     "(reglab stores predicted classes only, so it does not compute calibration error).",
                     "違う理由: 精度は正解の数だけを数えますが、損失（交差エントロピー）は正しいクラスにどれだけ確率を"
                     "置いたかも評価するので、自信の強さに報います。正則化（L2、ラベル平滑化、ある程度は"
                     "ドロップアウトも）はネットワークの自信を弱め（較正に近づけ）、同じクラスを選んでいても誤りの損失を下げます。予測したクラスを使うなら"
                     "精度で、確率を使うなら損失で選んでください（reglab は予測クラスだけを保存するので、較正誤差は"
                     "計算しません）。"),
    "recommend": ("{name}: recommended {point}, by the one-standard-error rule on {metric} (Breiman et al. 1984; "
                  "Hastie et al., ESL §7.10): the strongest setting whose mean {metric} is within one standard error "
                  "of the best ({best}, {best_value} ± {se}). Chosen again in {stability} of {resamples} seed "
                  "resamples. There: {metric} {value}, validation accuracy {acc}, test accuracy {test}.",
                  "{name}: 推奨は {point}。{metric}に 1 標準誤差ルール（Breiman et al. 1984; Hastie et al., ESL §7.10）"
                  "を適用: {metric}の平均が最良（{best}、{best_value} ± {se}）から 1 標準誤差以内にある最も強い設定です。"
                  "シードの再標本化 {resamples} 回のうち {stability} で同じ点が選ばれます。この点の{metric} {value}、"
                  "検証精度 {acc}、テスト精度 {test}。"),
    "recommend_best": ("{name}: recommended {point}, the best mean {metric} ({value}; validation accuracy {acc}). "
                       "{why} Chosen again in {stability} of {resamples} seed resamples. Test accuracy there: {test}.",
                       "{name}: 推奨は {point}。{metric}の平均が最良の点です（{value}、検証精度 {acc}）。{why}"
                       "シードの再標本化 {resamples} 回のうち {stability} で同じ点が選ばれます。この点のテスト精度: {test}。"),
    "no_order": ("{factor} has no order of strength, so the one-SE rule (which picks the strongest) does not apply.",
                 "{factor}には強さの順序がないので、最も強い設定を選ぶ 1 標準誤差ルールは使えません。"),
    "no_order_grid": ("A grid of two settings has no single order of strength, so the one-SE rule (which picks "
                      "the strongest) does not apply.",
                      "2 つの設定の格子には強さの順序が 1 つに決まらないので、最も強い設定を選ぶ 1 標準誤差ルールは使えません。"),
    "undecided": ("{name}: undecided with {seeds}. {reason} So nothing is recommended, no band or regime is "
                  "drawn, and no two points are told apart; the best {metric} is at {point} ({value}), shown for "
                  "reading only. {min} or more seeds (--seeds {min}) would let the rule decide.",
                  "{name}: {seeds}では未決定です。{reason}そのため推奨はせず、帯も領域も示さず、どの 2 点も区別しません。"
                  "{metric}が最も良いのは {point}（{value}）ですが、参考として示すだけです。"
                  "{min} シード以上（--seeds {min}）あればルールで決められます。"),
    "reason_1": ("The one-standard-error rule needs a standard error, and one seed gives none.",
                 "1 標準誤差ルールには標準誤差が必要ですが、1 シードでは求まりません。"),
    "reason_2": ("With 2 seeds each standard error rests on a single difference (its 95% range spans a factor of "
                 "about 70), too little for the one-standard-error rule.",
                 "2 シードでは標準誤差が 1 つの差だけに基づき（95% の範囲は約 70 倍に及ぶ）、1 標準誤差ルールには足りません。"),
    "band": ("Within one standard error of the best on {metric} (the one-SE band; by this rule they cannot be "
             "told apart): {points}.",
             "{metric}で最良から 1 標準誤差以内（1 SE 帯。このルールでは互いに区別できない点）: {points}。"),
    "band_cells": ("{count} of {total} cells are within one standard error of the best on {metric} (the one-SE "
                   "band): {points}.",
                   "{total} セル中 {count} セルが{metric}で最良から 1 標準誤差以内です（1 SE 帯）: {points}。"),
    "band_all": ("Every point is within one standard error of the best on {metric}: by the one-SE rule this sweep "
                 "cannot tell its settings apart on that metric, and no underfitting or overfitting is read from it.",
                 "すべての点が{metric}で最良から 1 標準誤差以内です。1 標準誤差ルールではこの指標で設定を区別できず、"
                 "過少適合・過学習も読み取りません。"),
    "band_alone": ("No other point is within one standard error of the best on {metric}.",
                   "{metric}で最良から 1 標準誤差以内にある点はほかにありません。"),
    "underfits": ("Underfitting (training accuracy falls by more than the gap grows, against {chosen}): {points} "
                  "(training accuracy {values} against {best}).",
                  "過少適合（{chosen} と比べ、汎化ギャップの広がりより訓練精度の低下が大きい）: {points}"
                  "（訓練精度 {values}、{chosen} では {best}）。"),
    "overfits": ("Overfitting (the gap grows by more than training accuracy falls, against {chosen}): {points} "
                 "(training − validation accuracy {values} points against {best}).",
                 "過学習（{chosen} と比べ、訓練精度の低下より汎化ギャップの広がりが大きい）: {points}"
                 "（訓練精度 − 検証精度 {values} ポイント、{chosen} では {best}）。"),
    "metric_only": ("Outside the band, but within {margin} point of {chosen} on training accuracy and on the gap, "
                    "so no regime is named (worse on {metric} only): {points}.",
                    "帯の外ですが、訓練精度も汎化ギャップも {chosen} との差が {margin} ポイント未満なので領域は"
                    "示しません（{metric}だけが悪い）: {points}。"),
    # ---- against doing nothing (test accuracy, paired by seed)
    "vs_better": ("{point} improves test accuracy over {ref}: {diff} points, {ci_label} {ci}, better in {k} of {n} "
                  "seeds.",
                  "{point} は {ref} よりテスト精度を上げます: {diff} ポイント、{ci_label} {ci}、{n} シード中 {k} シードで上回る。"),
    "vs_worse": ("{point} lowers test accuracy against {ref}: {diff} points, {ci_label} {ci}, better in {k} of {n} "
                 "seeds.",
                 "{point} は {ref} よりテスト精度を下げます: {diff} ポイント、{ci_label} {ci}、{n} シード中 {k} シードで上回る。"),
    "vs_unclear": ("{point} shows no clear change in test accuracy against {ref}: {diff} points, {ci_label} {ci} (it "
                   "contains 0: a gain of at most {high} points), better in {k} of {n} seeds.",
                   "{point} と {ref} のテスト精度の差ははっきりしません: {diff} ポイント、{ci_label} {ci}（0 を含む。"
                   "上がるとしても最大 {high} ポイント）、{n} シード中 {k} シードで上回る。"),
    "vs_one": ("{point} against {ref}: {diff} points of test accuracy in the one seed (no interval from one seed).",
               "{point} と {ref} の比較: 1 シードでテスト精度 {diff} ポイント（1 シードでは区間なし）。"),
    "vs_metric": ("{point} {verb} {metric} ({ours} against {theirs} without).",
                  "{point} は{metric}を{verb}（{ours}、なしでは {theirs}）。"),
    "ci_one": ("95% CI", "95% 信頼区間"),
    "ci_two": ("simultaneous 95% CI (Bonferroni, 2 comparisons)", "同時 95% 信頼区間（Bonferroni、2 つの比較）"),
    "lowers": ("lowers", "下げます"),
    "raises": ("raises", "上げます"),
    "no_reference": ("This sweep has no point without {factor} (a value of 0, or a base variant trained without it), "
                     "so it cannot say whether {factor} helps at all: add 0 to the values (a list: {setting}=0,...) or "
                     "keep a variant without it in the study as the sweep's base (docs/sweeps.md).",
                     "このスイープには{factor}なしの点（値 0、またはそれなしで学習した基準のバリアント）がないので、"
                     "{factor}が役に立つかどうかは言えません。値に 0 を加える（リストで {setting}=0,...）か、それを持たない"
                     "バリアントをスタディに置いてスイープの base にしてください（docs/sweeps.md）。"),
    "to": ("{a} to {b}", "{a} から {b}"),
    "method": ("Sweeps. Each point's metrics are those of its runs' last epoch, averaged over seeds; the 95% "
               "intervals are t intervals computed on the logit scale for accuracies and on the log scale for "
               "losses and mapped back, so neither leaves its range. The recommendation follows the "
               "one-standard-error rule (Breiman et al. 1984; Hastie, Tibshirani & Friedman, ESL §7.10; glmnet's "
               "lambda.1se) on the sweep's validation metric: the best mean, the standard error of that best "
               "point's mean over seeds, and the strongest setting whose mean is within one standard error of it "
               "(the one-SE band). Settings without an order of strength (a learning rate, a grid of two) get the "
               "best point. Test data are never read to choose. The stability share: how often the same point is "
               "recommended in {resamples} paired bootstrap resamples of the seeds. With fewer than {min} seeds "
               "the sweep is undecided. Regimes, for one-factor sweeps, against the recommended point: in the band "
               "is within one SE; outside it, underfitting when training accuracy falls by more than the gap "
               "(training − validation accuracy) grows, overfitting when the gap grows more, each by at least "
               "{margin} point and more than one standard error of the paired differences. The comparison with "
               "doing nothing is a paired t interval over seeds on test accuracy, for reading only; it is one "
               "comparison made at a point fixed on validation data, so unlike the study's findings it is not "
               "adjusted for the sweep's other points (two comparisons, when the metrics disagree, get "
               "Bonferroni-simultaneous intervals). "
               "Definitions: docs/report.md.",
               "スイープ。各点の値は各実行の最後のエポックの値をシードで平均したもの。95% 区間は、精度はロジット尺度、"
               "損失は対数尺度で求めた t 区間を元の尺度に戻したもので、値の範囲からはみ出しません。"
               "推奨はスイープの検証指標に 1 標準誤差ルール（Breiman et al. 1984; Hastie, Tibshirani & Friedman, "
               "ESL §7.10; glmnet の lambda.1se）を適用したもの: 平均が最良の点と、その平均のシード間の標準誤差を求め、"
               "最良から 1 標準誤差以内（1 SE 帯）で最も強い設定を選びます。強さの順序がない設定（学習率、2 因子の格子）"
               "では最良の点を選びます。テストデータは選択に一切使いません。安定度: シードの対応を保ったブートストラップ"
               "再標本化 {resamples} 回で同じ点が推奨される割合。{min} シード未満のスイープは未決定とします。"
               "1 因子スイープの領域（推奨点と比べる）: 帯の中は 1 SE 以内。帯の外では、訓練精度の低下が汎化ギャップ"
               "（訓練精度 − 検証精度）の広がりより大きければ過少適合、広がりのほうが大きければ過学習。いずれも "
               "{margin} ポイント以上かつ対応のある差の標準誤差を超えるときだけです。何もしない場合との比較は"
               "テスト精度のシードごとの対応のある t 区間で、参考のためだけのものです。検証データで決めた 1 点での"
               "1 つの比較なので、スタディの所見とは違いスイープの他の点についての補正はしません（指標が食い違うときの"
               " 2 つの比較には Bonferroni の同時区間を使います）。定義: docs/report.md。"),
}


def s(lang: str, key: str, **values: object) -> str:
    en, ja = STRINGS[key]
    text = ja if lang == "ja" else en
    return text.format(**values) if values else text


def technique_label(factor: str, lang: str) -> str:
    """What a swept setting switches on, for "without L2": the technique, not its parameter."""
    words = registry.words(factor.split(".")[0])
    if words is None:
        return factor
    return (words.short or words.name)[lang == "ja"]


# Swept settings that are not a technique's parameter, as an axis names them.
AXES = {"optimizer.lr": ("learning rate", "学習率")}


def factor_label(factor: str, lang: str) -> str:
    """A swept setting on an axis: a technique's shorthand parameter by its registration's words
    ("L2 λ" for l2 and l2.strength), other settings by AXES, else the key itself."""
    name, _, parameter = factor.partition(".")
    technique = registry.switches().get(name)
    if technique is not None and technique.words is not None and technique.words.axis is not None \
            and parameter in ("", technique.shorthand):
        return technique.words.axis[lang == "ja"]
    return AXES[factor][lang == "ja"] if factor in AXES else factor


def value_text(value: Any) -> str:
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e4):
            return f"{value:.0e}" if math.isclose(float(f"{value:.0e}"), value, rel_tol=1e-9) else f"{value:.2g}"
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(value_text(v) for v in value) + "]"
    return str(value)


def named_value(sweep: SweepAnalysis, point: SweepPoint, factor: str) -> str:
    """A factor's value as the point's name writes it (l2=3e-03 -> 3e-03): one spelling everywhere."""
    parts = point.name.split(" ")
    index = sweep.factors.index(factor)
    if len(parts) == len(sweep.factors) and "=" in parts[index]:
        return parts[index].split("=", 1)[1]
    return value_text(point.values[factor])


def point_text(sweep: SweepAnalysis, point: SweepPoint, lang: str = "en") -> str:
    return ", ".join(f"{factor_label(f, lang)} = {named_value(sweep, point, f)}" for f in sweep.factors)


def findings(sweeps: list[SweepAnalysis], lang: str) -> list[str]:
    out = []
    for sweep in sweeps:
        if sweep.point(sweep.chosen) is not None:
            out += sweep_findings(sweep, lang)
    out += _decay_comparison(sweeps, lang)
    return out


def sweep_findings(sweep: SweepAnalysis, lang: str) -> list[str]:
    """One sweep in plain words, in the order a reader needs them: a disagreement between the two
    validation metrics first (it changes what "best" means), then the recommendation against doing
    nothing, then the rule that made it, the one-SE band and the regimes."""
    chosen = sweep.point(sweep.chosen)
    metric = s(lang, sweep.choose)
    out: list[str] = []
    if not sweep.decided:
        reason = s(lang, "reason_1" if sweep.seeds <= 1 else "reason_2")
        out.append(s(lang, "undecided", name=sweep.name, seeds=seeds_text(sweep.seeds, lang), reason=reason, metric=metric,
                     point=point_text(sweep, chosen, lang), value=_metric(chosen, sweep.choose), min=MIN_SEEDS_ONE_SE))
        out += _against_nothing(sweep, lang)
        return out
    other = sweep.point(sweep.other.chosen) if sweep.disagree else None
    if other is not None:
        by_loss, by_accuracy = (chosen, other) if sweep.choose == "val_loss" else (other, chosen)
        out.append(s(lang, "disagree", name=sweep.name, a=point_text(sweep, by_loss, lang),
                     b=point_text(sweep, by_accuracy, lang), chosen=point_text(sweep, chosen, lang), choose=metric)
                   + ("" if lang == "ja" else " ") + s(lang, "disagree_why"))
    against = _against_nothing(sweep, lang)
    if against and other is None:
        against[0] = f"{sweep.name}: {against[0]}"
    out += against
    out.append(_recommendation(sweep, lang))
    if len(sweep.points) > 1:
        out += _band_and_regimes(sweep, lang)
    return out


def _recommendation(sweep: SweepAnalysis, lang: str) -> str:
    chosen, best, choice = sweep.point(sweep.chosen), sweep.point(sweep.best), sweep.choice
    common = dict(name=sweep.name, point=point_text(sweep, chosen, lang), metric=s(lang, sweep.choose),
                  value=_metric(chosen, sweep.choose), acc=_interval(chosen.stats.get("val_accuracy"), 100, 1, "%"),
                  test=_interval(chosen.stats.get("test_accuracy"), 100, 1, "%"), resamples=f"{RESAMPLES:,}",
                  stability="–" if sweep.stability is None else f"{sweep.stability:.0%}")
    if choice.rule == ONE_SE:
        scale, digits = (1.0, 3) if sweep.choose == "val_loss" else (100.0, 1)
        unit = "" if sweep.choose == "val_loss" else "%"
        return s(lang, "recommend_self" if best is chosen else "recommend", **common, best=point_text(sweep, best, lang),
                 best_value=f"{best.mean(sweep.choose) * scale:.{digits}f}{unit}",
                 se=f"{(choice.se or 0.0) * scale:.{digits}f}{unit}")
    why = (s(lang, "no_order", factor=factor_label(sweep.factors[0], lang)) if len(sweep.factors) == 1
           else s(lang, "no_order_grid"))
    return s(lang, "recommend_best", **common, why=why)


def _band_and_regimes(sweep: SweepAnalysis, lang: str) -> list[str]:
    metric = s(lang, sweep.choose)
    chosen = sweep.point(sweep.chosen)
    if all(p.in_band for p in sweep.points):
        return [s(lang, "band_all", metric=metric)]
    out = []
    if len(sweep.band) == 1:
        out.append(s(lang, "band_alone", metric=metric))
    elif len(sweep.factors) == 1:
        out.append(s(lang, "band", metric=metric, points=_ranges(sweep, sweep.band, lang)))
    else:
        out.append(s(lang, "band_cells", count=len(sweep.band), total=len(sweep.points), metric=metric,
                     points=_ranges(sweep, sweep.band, lang)))
    if len(sweep.factors) != 1 or not any(p.regime for p in sweep.points):
        return out
    name = point_text(sweep, chosen, lang)
    under = [p for p in sweep.points if p.regime == UNDERFITTING]
    over = [p for p in sweep.points if p.regime == OVERFITTING]
    neither = [p for p in sweep.points if not p.in_band and p.regime is None and p.per_seed[sweep.choose]]
    if under:
        out.append(s(lang, "underfits", chosen=name, points=_ranges(sweep, under, lang),
                     values=_span([p.mean("train_accuracy") for p in under], 100.0, 1, "%"),
                     best=_span([chosen.mean("train_accuracy")], 100.0, 1, "%")))
    if over:
        out.append(s(lang, "overfits", chosen=name, points=_ranges(sweep, over, lang),
                     values=_span([p.mean("gap") for p in over], 100.0, 1, ""),
                     best=_span([chosen.mean("gap")], 100.0, 1, "")))
    if neither:
        out.append(s(lang, "metric_only", chosen=name, margin=f"{REGIME_MARGIN * 100:g}", metric=metric,
                     points=_ranges(sweep, neither, lang)))
    return out


def _against_nothing(sweep: SweepAnalysis, lang: str) -> list[str]:
    """The recommendation (and the other metric's, when they disagree) against the unregularized
    point on test accuracy; or why there is nothing to compare with."""
    if sweep.reference is None:
        if len(sweep.factors) == 1 and strength_order(sweep) is not None:
            return [s(lang, "no_reference", factor=technique_label(sweep.factors[0], lang), setting=sweep.factors[0])]
        return []
    found = sweep.point(sweep.reference)
    ref = point_text(sweep, found, lang) if found else s(lang, "without", name=sweep.reference,
                                                        technique=technique_label(sweep.factors[0], lang))
    parts = []
    for comparison in (sweep.against_reference, sweep.other_against_reference):
        if comparison is None:
            continue
        point = point_text(sweep, sweep.point(comparison.variant), lang)
        diff = comparison.difference
        values = dict(point=point, ref=ref, diff=_signed(diff.mean), k=comparison.better, n=comparison.n)
        if diff.low is None or diff.high is None:
            parts.append(s(lang, "vs_one", **values))
            continue
        key = "vs_better" if diff.low > 0 else "vs_worse" if diff.high < 0 else "vs_unclear"
        label = s(lang, "ci_one" if sweep.other_against_reference is None else "ci_two")
        parts.append(s(lang, key, **values, ci=f"[{_signed(diff.low)}, {_signed(diff.high)}]", ci_label=label,
                       high=f"{diff.high * 100:.2f}"))
    if sweep.reference_metric is not None and parts:
        ours, theirs = sweep.reference_metric
        if ours != theirs:
            higher = sweep.choose == "val_accuracy"
            scale, digits, unit = (100.0, 1, "%") if higher else (1.0, 3, "")
            parts.append(s(lang, "vs_metric", point=point_text(sweep, sweep.point(sweep.chosen), lang), verb=s(lang, "lowers" if ours < theirs else "raises"),
                           metric=s(lang, sweep.choose), ours=f"{ours * scale:.{digits}f}{unit}",
                           theirs=f"{theirs * scale:.{digits}f}{unit}"))
    if not parts:
        return []
    # Japanese: no space after a closing full-width parenthesis ("none（L2 正則化なし）のテスト精度")
    return ["".join(parts).replace("） ", "）")] if lang == "ja" else [" ".join(parts)]


def seeds_text(n: int, lang: str) -> str:
    if lang == "ja":
        return f"{n} シード"
    return "one seed" if n == 1 else f"{n} seeds"


def _metric(point: SweepPoint, metric: str) -> str:
    if metric == "val_loss":
        return _interval(point.stats.get(metric), 1.0, 3)
    return _interval(point.stats.get(metric), 100, 1, "%")


def _signed(fraction: float) -> str:
    """A difference of accuracies in points, signed, with a true minus sign."""
    return f"{fraction * 100:+.2f}".replace("-", "−")


def _decay_comparison(sweeps: list[SweepAnalysis], lang: str) -> list[str]:
    """Two two-factor sweeps over the same first factor (the learning rate): how far the best second
    factor (the decay) moves across the first, with a verdict only where seed resampling supports it
    (report/decay_text.py)."""
    from reglab.report import decay_text

    return decay_text.sentences(sweeps, lang)


def _ranges(sweep: SweepAnalysis, chosen: list[SweepPoint], lang: str) -> str:
    """Runs of consecutive points as 'a to b'; two-factor points by name."""
    if len(sweep.factors) != 1:
        return ", ".join(p.name for p in chosen)
    order = [p.name for p in sweep.points]
    index = sorted(order.index(p.name) for p in chosen)
    runs: list[list[int]] = []
    for i in index:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    factor = sweep.factors[0]

    def text(i: int) -> str:
        return named_value(sweep, sweep.points[i], factor)
    parts = [text(r[0]) if len(r) == 1 else s(lang, "to", a=text(r[0]), b=text(r[-1])) for r in runs]
    return f"{factor_label(factor, lang)} " + ("、" if lang == "ja" else ", ").join(parts)


def _span(values: list[float | None], scale: float, digits: int, unit: str) -> str:
    found = [v * scale for v in values if v is not None]
    if not found:
        return "–"
    low, high = min(found), max(found)
    return f"{low:.{digits}f}{unit}" if math.isclose(low, high) else f"{low:.{digits}f}–{high:.{digits}f}{unit}"


def _interval(interval: Interval | None, scale: float, digits: int, unit: str = "") -> str:
    if interval is None or interval.mean is None:
        return "–"
    text = f"{interval.mean * scale:.{digits}f}{unit}"
    if interval.low is not None and interval.high is not None:
        low, high = interval.low * scale, interval.high * scale
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return text


def used_keys(sweeps: list[SweepAnalysis]) -> list[Any]:
    return [_key(p.values) for sw in sweeps for p in sw.points]


def section(sweeps: list[SweepAnalysis], pngs: dict[str, bytes], lang: str) -> Any:
    """The report's sweep section: findings, figures, a table per sweep, the definitions."""
    from reglab.report.html_parts import figure, tag, table

    parts: list[Any] = [tag("ul", *(tag("li", line) for line in findings(sweeps, lang)), class_="findings")]
    for index, sweep in enumerate(sweeps):
        parts.append(figure(f"sweep_{index + 1}", pngs, s(lang, "one_caption"), alt=sweep.name))
    parts.append(figure("sweep_heatmaps", pngs, s(lang, "heat_caption"), alt=s(lang, "sec_sweeps")))
    headers = [s(lang, "point"), s(lang, "val_loss"), s(lang, "val_accuracy"), s(lang, "train_accuracy"),
               s(lang, "gap_short"), s(lang, "test_accuracy"), s(lang, "regime")]
    for sweep in sweeps:
        rows = [_row(sweep.reference_point, " ○", lang)] if sweep.reference_point is not None else []
        for p in sweep.points:
            mark = (" ★" if p.name == sweep.chosen and sweep.decided else " ●" if p.name == sweep.best else
                    " ≈" if p.in_band else "") + (" ○" if p.name == sweep.reference else "")
            rows.append(_row(p, mark, lang))
        parts.append(tag("h3", sweep.name))
        parts.append(table(headers, rows, numeric=range(1, 6)))
    parts.append(tag("p", s(lang, "table_note"), class_="note"))
    parts.append(tag("p", s(lang, "method", min=MIN_SEEDS_ONE_SE, resamples=f"{RESAMPLES:,}",
                         margin=f"{REGIME_MARGIN * 100:g}"), class_="note"))
    return tag("div", *parts)


def _row(p: SweepPoint, mark: str, lang: str) -> list[str]:
    return [p.name + mark, _interval(p.stats.get("val_loss"), 1.0, 3), _interval(p.stats.get("val_accuracy"), 100, 1, "%"),
            _interval(p.stats.get("train_accuracy"), 100, 1, "%"), _interval(p.stats.get("gap"), 100, 1),
            _interval(p.stats.get("test_accuracy"), 100, 1, "%"), s(lang, p.regime) if p.regime else "–"]


STRINGS.update({
    "point": ("point", "点"),
    "gap_short": ("gap (points)", "ギャップ (ポイント)"),
    "regime": ("regime", "領域"),
    "table_note": ("★ recommended (one-SE rule); ● the best mean on the choice metric; ≈ within one standard error "
                   "of the best (the one-SE band); ○ doing nothing, the point of comparison. Mean [95% interval] over "
                   "seeds, at the last epoch trained; the intervals of accuracies and losses stay in their range.",
                   "★ 推奨点（1 標準誤差ルール）、● 選択に使う指標の平均が最良の点、≈ 最良から 1 標準誤差以内（1 SE 帯）、"
                   "○ 何もしない比較の基準。シード間の平均 [95% 区間]、最後のエポックの値。精度と損失の区間は値の範囲に"
                   "収まります。"),
    "without": ("{name} (without {technique})", "{name}（{technique}なし）"),
    "recommend_self": ("{name}: recommended {point}, by the one-standard-error rule on {metric} (Breiman et al. "
                       "1984; Hastie et al., ESL §7.10: the strongest setting whose mean {metric} is within one "
                       "standard error of the best); here the best ({best_value} ± {se}) is itself the strongest "
                       "such setting. Chosen again in {stability} of {resamples} seed resamples. There: {metric} "
                       "{value}, validation accuracy {acc}, test accuracy {test}.",
                       "{name}: 推奨は {point}。{metric}に 1 標準誤差ルール（Breiman et al. 1984; Hastie et al., "
                       "ESL §7.10。平均が最良から 1 標準誤差以内にある最も強い設定を選ぶ）を適用。ここでは最良の点"
                       "（{best_value} ± {se}）自身がその最も強い設定です。シードの再標本化 {resamples} 回のうち "
                       "{stability} で同じ点が選ばれます。この点の{metric} {value}、検証精度 {acc}、テスト精度 {test}。"),
})
