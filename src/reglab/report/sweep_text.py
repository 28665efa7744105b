"""The sweep section of the report: its words in English and Japanese, the findings in plain words,
and the HTML. Strings are trusted text; values from a run directory are escaped by html.tag."""

from __future__ import annotations

import math
from typing import Any

from reglab.analysis.statistics import MIN_SEEDS, Interval
from reglab.analysis.sweeps import OVERFITTING, UNDERFITTING, SweepAnalysis, SweepPoint, _key

STRINGS: dict[str, tuple[str, str]] = {
    "sec_sweeps": ("Sweeps: which strength?", "スイープ: どの強さがよいか"),
    "accuracy_axis": ("accuracy (%)", "正解率 (%)"),
    "loss_axis": ("loss", "損失"),
    "train_accuracy": ("training accuracy", "訓練正解率"),
    "val_accuracy": ("validation accuracy", "検証正解率"),
    "test_accuracy": ("test accuracy", "テスト正解率"),
    "train_loss": ("training loss", "訓練損失"),
    "val_loss": ("validation loss", "検証損失"),
    "val_accuracy_cell": ("validation accuracy (%)", "検証正解率 (%)"),
    "gap_cell": ("gap: training − validation accuracy (points)", "汎化ギャップ: 訓練 − 検証正解率 (ポイント)"),
    "underfitting": ("underfitting", "学習不足"),
    "good": ("good", "良好"),
    "overfitting": ("overfitting", "過学習"),
    "chosen_mark": (" chosen: {value}", " 選択: {value}"),
    "flat_mark": ("flat: no point differs from the best", "平坦: 最良と区別できる点なし"),
    "sweep_title": ("{name}: mean over {n} seeds with 95% band; chosen on {choose}",
                    "{name}: {n} シードの平均と 95% 区間; {choose}で選択"),
    "heatmap_title": ("Two-factor sweeps, mean over {n} seeds; the boxed cell is the one chosen on validation data",
                      "2 因子スイープ ({n} シードの平均)。枠のセルが検証データで選んだ点"),
    "one_caption": ("Left: accuracy on training, validation and test data; right: loss. The dashed vertical "
                    "line is the point chosen on validation data; shading shows the regimes read from the numbers "
                    "(definitions in 'How the numbers are computed'). Metrics are those of the last epoch trained; "
                    "test accuracy is drawn for reading only and never used to choose.",
                    "左: 訓練・検証・テストの正解率、右: 損失。縦の破線は検証データで選んだ点、塗り分けは数値から読んだ領域"
                    "（定義は「数値の求め方」）。値は最後に学習したエポックのもの。テスト正解率は参考のために描くだけで、"
                    "選択には使っていません。"),
    "heat_caption": ("Top: mean validation accuracy per cell; bottom: the generalisation gap (training minus "
                     "validation accuracy). Each row shares one colour scale across sweeps, so cells side by side "
                     "compare directly.",
                     "上: セルごとの検証正解率の平均、下: 汎化ギャップ（訓練正解率 − 検証正解率）。行ごとに色の尺度を"
                     "共有しているので、横に並んだセルはそのまま比べられます。"),
    "best": ("{name}: best {point} ({metric} {value}; validation accuracy {acc}), chosen on {choose} over {n} seeds. "
             "Test accuracy at this point: {test}.",
             "{name}: 最良は {point}（{metric} {value}、検証正解率 {acc}）。{n} シードの{choose}で選択。"
             "この点のテスト正解率: {test}。"),
    "plateau": ("Cannot be told apart from it (paired over seeds, Holm-corrected): {points}.",
                "これと区別できない点（シードごとの対応のある検定、Holm 補正）: {points}。"),
    "plateau_cells": ("{count} of {total} cells cannot be told apart from it (paired over seeds, Holm-corrected): "
                      "{points}.",
                      "{total} セル中 {count} セルはこれと区別できません（シードごとの対応のある検定、Holm 補正）: {points}。"),
    "plateau_alone": ("Every other point is worse (paired over seeds, Holm-corrected).",
                      "他のすべての点はこれより悪い（シードごとの対応のある検定、Holm 補正）。"),
    "few_seeds": ("With {n} seeds no point can be told apart from the best ({min} are needed for a verdict), "
                  "so no regime is labelled.",
                  "{n} シードでは最良と区別できる点はありません（判定には {min} シード必要）。領域は示しません。"),
    "flat": ("No point is worse than the best beyond the seeds' noise: the sweep is flat over this range, "
             "and no underfitting or overfitting is labelled.",
             "どの点も最良とシード間のばらつき以上には違いません。この範囲ではスイープは平坦で、"
             "学習不足・過学習の領域は示しません。"),
    "underfits_val_loss": ("Underfitting (the network fits its training data worse): {points} (training loss "
                           "{values} against {best} at the best; training accuracy down to {acc}).",
                           "学習不足（訓練データへの当てはまり自体が悪化）: {points}（訓練損失 {values}、最良では {best}。"
                           "訓練正解率は最低 {acc}）。"),
    "underfits_val_accuracy": ("Underfitting (the network fits its training data worse): {points} (training "
                               "accuracy {values} against {best} at the best).",
                               "学習不足（訓練データへの当てはまり自体が悪化）: {points}（訓練正解率 {values}、最良では {best}）。"),
    "overfits_val_loss": ("Overfitting (training data fitted, but the gap grows): {points} (validation − training "
                          "loss {values} against {best} at the best).",
                          "過学習（訓練データには合うがギャップが広がる）: {points}（検証損失 − 訓練損失 {values}、"
                          "最良では {best}）。"),
    "overfits_val_accuracy": ("Overfitting (training data fitted, but the gap grows): {points} (training − "
                              "validation accuracy {values} points against {best} at the best).",
                              "過学習（訓練データには合うがギャップが広がる）: {points}（訓練正解率 − 検証正解率 {values} "
                              "ポイント、最良では {best}）。"),
    "to": ("{a} to {b}", "{a} から {b}"),
    "method": ("Sweeps. Each point's metrics are those of its runs' last epoch, averaged over seeds (95% t "
               "interval). The chosen point has the best mean validation loss (or validation accuracy, as the "
               "sweep says); test data are never read to choose. The plateau: points not shown worse than the "
               "chosen one on that metric by a paired t-test over seeds, Holm-corrected across the sweep "
               "(at least {min} seeds for a verdict). Regimes, for one-factor sweeps: the plateau is good; a point "
               "outside it is worse on the validation metric by Δval = Δtrain + Δgap against the chosen point "
               "(the same metric on training data, and the gap validation − training); underfitting when Δtrain "
               "is the larger share, overfitting when Δgap is. A sweep whose plateau holds every point is flat: "
               "nothing is labelled. Definitions: docs/report.md.",
               "スイープ。各点の値は各実行の最後のエポックの値をシードで平均したもの（95% t 区間）。"
               "選ぶ点は検証損失（スイープの指定によっては検証正解率）の平均が最良の点で、テストデータは選択に一切使い"
               "ません。プラトー: その指標でシードごとの対応のある t 検定（スイープ内で Holm 補正、判定には {min} "
               "シード以上）により選んだ点より悪いと示されなかった点。1 因子スイープの領域: プラトーは良好。"
               "プラトー外の点は選んだ点より検証指標が Δval = Δtrain + Δgap だけ悪い（Δtrain は訓練データでの同じ指標、"
               "Δgap は検証 − 訓練の差）。Δtrain のほうが大きければ学習不足、Δgap のほうが大きければ過学習。"
               "プラトーが全点を含むスイープは平坦とし、領域は示しません。定義: docs/report.md。"),
}


def s(lang: str, key: str, **values: object) -> str:
    en, ja = STRINGS[key]
    text = ja if lang == "ja" else en
    return text.format(**values) if values else text


def factor_label(factor: str, lang: str) -> str:
    names = {"l2": ("L2 λ", "L2 λ"), "l1": ("L1 λ", "L1 λ"), "dropout.rate": ("dropout rate", "ドロップアウト率"),
             "optimizer.lr": ("learning rate", "学習率"), "weight_decay": ("decoupled decay", "分離型の重み減衰")}
    return names[factor][lang == "ja"] if factor in names else factor


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
        chosen = sweep.point(sweep.chosen)
        if chosen is None:
            continue
        n = len(chosen.per_seed.get(sweep.choose, {}))
        digits = 3
        out.append(s(lang, "best", name=sweep.name, point=point_text(sweep, chosen, lang), metric=s(lang, sweep.choose),
                     value=_interval(chosen.stats.get(sweep.choose), 1.0, digits)
                     if sweep.choose == "val_loss" else _interval(chosen.stats.get(sweep.choose), 100, 1, "%"),
                     acc=_interval(chosen.stats.get("val_accuracy"), 100, 1, "%"), choose=s(lang, sweep.choose), n=n,
                     test=_interval(chosen.stats.get("test_accuracy"), 100, 1, "%")))
        others = [p for p in sweep.points if p is not chosen]
        if not others:
            continue
        if n < MIN_SEEDS:
            out.append(s(lang, "few_seeds", n=n, min=MIN_SEEDS))
            continue
        plateau = [p for p in sweep.plateau if p is not chosen]
        if not plateau:
            out.append(s(lang, "plateau_alone"))
        elif len(sweep.factors) == 1:
            out.append(s(lang, "plateau", points=_ranges(sweep, sweep.plateau, lang)))
        else:
            out.append(s(lang, "plateau_cells", count=len(sweep.plateau), total=len(sweep.points),
                         points=_ranges(sweep, sweep.plateau, lang)))
        if len(sweep.factors) == 1:
            if sweep.flat:
                out.append(s(lang, "flat"))
            under = [p for p in sweep.points if p.regime == UNDERFITTING]
            over = [p for p in sweep.points if p.regime == OVERFITTING]
            train = "train_loss" if sweep.choose == "val_loss" else "train_accuracy"
            scale, digits, unit = (1.0, 3, "") if sweep.choose == "val_loss" else (100.0, 1, "%")
            if under:
                out.append(s(lang, "underfits_" + sweep.choose, points=_ranges(sweep, under, lang),
                             values=_span([p.mean(train) for p in under], scale, digits, unit),
                             best=_span([chosen.mean(train)], scale, digits, unit),
                             acc=_span([min(p.mean("train_accuracy") or 1.0 for p in under)], 100.0, 1, "%")))
            if over:
                def gap(p: SweepPoint) -> float | None:
                    if sweep.choose == "val_loss":
                        return None if p.mean("val_loss") is None else p.mean("val_loss") - (p.mean("train_loss") or 0)
                    return p.mean("gap")
                out.append(s(lang, "overfits_" + sweep.choose, points=_ranges(sweep, over, lang),
                             values=_span([gap(p) for p in over], scale, digits, ""),
                             best=_span([gap(chosen)], scale, digits, "")))
    out += _decay_comparison(sweeps, lang)
    return out


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
    return f"{factor_label(factor, lang)} " + ", ".join(parts)


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
        if unit == "%":  # an accuracy's t interval can pass 100%; the quantity cannot
            low, high = max(low, 0.0), min(high, 100.0)
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return text


def used_keys(sweeps: list[SweepAnalysis]) -> list[Any]:
    return [_key(p.values) for sw in sweeps for p in sw.points]


def section(sweeps: list[SweepAnalysis], pngs: dict[str, bytes], lang: str) -> Any:
    """The report's sweep section: findings, figures, a table per sweep, the definitions."""
    from reglab.report.html import figure, tag, table  # html imports nothing of ours back

    parts: list[Any] = [tag("ul", *(tag("li", line) for line in findings(sweeps, lang)), class_="findings")]
    for index, sweep in enumerate(sweeps):
        parts.append(figure(f"sweep_{index + 1}", pngs, s(lang, "one_caption"), alt=sweep.name))
    parts.append(figure("sweep_heatmaps", pngs, s(lang, "heat_caption"), alt=s(lang, "sec_sweeps")))
    headers = [s(lang, "point"), s(lang, "val_loss"), s(lang, "val_accuracy"), s(lang, "train_accuracy"),
               s(lang, "gap_short"), s(lang, "test_accuracy"), s(lang, "regime")]
    for sweep in sweeps:
        rows = []
        for p in sweep.points:
            mark = " ★" if p.name == sweep.chosen else (" ≈" if p.in_plateau else "")
            rows.append([p.name + mark, _interval(p.stats.get("val_loss"), 1.0, 3),
                         _interval(p.stats.get("val_accuracy"), 100, 1, "%"),
                         _interval(p.stats.get("train_accuracy"), 100, 1, "%"),
                         _interval(p.stats.get("gap"), 100, 1), _interval(p.stats.get("test_accuracy"), 100, 1, "%"),
                         s(lang, p.regime) if p.regime else "–"])
        parts.append(tag("h3", sweep.name))
        parts.append(table(headers, rows, numeric=range(1, 6)))
    parts.append(tag("p", s(lang, "table_note"), class_="note"))
    parts.append(tag("p", s(lang, "method", min=MIN_SEEDS), class_="note"))
    return tag("div", *parts)


STRINGS.update({
    "point": ("point", "点"),
    "gap_short": ("gap (points)", "ギャップ (ポイント)"),
    "regime": ("regime", "領域"),
    "table_note": ("★ the point chosen on validation data; ≈ cannot be told apart from it. Mean [95% interval] "
                   "over seeds, at the last epoch trained.",
                   "★ 検証データで選んだ点、≈ それと区別できない点。シード間の平均 [95% 区間]、最後のエポックの値。"),
})
