"""The sentences about Loshchilov & Hutter's claim (analysis/decay_shift.py), in English and
Japanese: how far the best decay moves across learning rates in each grid, and a verdict only
where resampling the seeds supports one; otherwise that the grid does not decide it, and roughly
how many seeds would."""

from __future__ import annotations

from reglab.analysis.decay_shift import SETTLED_SE, SUPPORT, decay_shift
from reglab.analysis.sweeps import SweepAnalysis

METRIC = {"val_loss": ("lowest mean validation loss", "平均検証損失が最小"),
          "val_accuracy": ("highest mean validation accuracy", "平均検証精度が最大")}

TEXT = {
    "spans": ("Best decay at learning rates {rows} ({metric} in each row): {a} moves over {da} decades ({ra}), "
              "{b} over {db} ({rb}), in steps of {step} decades.",
              "学習率 {rows} での最良の減衰（各行で{metric}）: {a} は {da} 桁（{ra}）、{b} は {db} 桁（{rb}）動きます"
              "（格子の刻みは {step} 桁）。"),
    "resampled": ("Resampling the {n} seeds (paired bootstrap, {resamples:,} resamples), {b}'s best decay moves "
                  "less than {a}'s in {second}% of resamples and more in {first}%.",
                  "{n} シードを再標本化すると（対応のあるブートストラップ、{resamples:,} 回）、{b} の最良の減衰が {a} より"
                  "動きが小さいのは {second}%、大きいのは {first}% でした。"),
    "second_less": ("So here the best decay depends less on the learning rate with {b}, as Loshchilov & Hutter "
                    "(2019) report.",
                    "したがってここでは {b} のほうが最良の減衰が学習率に依存しにくく、Loshchilov & Hutter (2019) の報告どおりです。"),
    "first_less": ("So here the best decay depends more on the learning rate with {b} than with {a}: the opposite "
                   "of what Loshchilov & Hutter (2019) report.",
                   "したがってここでは {b} のほうが {a} より最良の減衰が学習率に依存しやすく、Loshchilov & Hutter (2019) の"
                   "報告とは逆です。"),
    "undecided": ("The grid does not decide whether the best decay depends less on the learning rate with {b} than "
                  "with {a}, as Loshchilov & Hutter (2019) report: a direction is stated when it holds in {support}% "
                  "of resamples.",
                  "最良の減衰が {a} より {b} のほうが学習率に依存しにくいか（Loshchilov & Hutter (2019) の報告）は、"
                  "この格子では決まりません。方向を述べるのは再標本化の {support}% 以上で成り立つときだけです。"),
    "settled": (" In {settled} of the {rows} rows ({per} learning rates in each grid) the best decay beats the "
                "runner-up by {se:g} standard errors of their paired difference.",
                "最良の減衰が次点を対応のある差の標準誤差の {se:g} 倍以上上回る行は、{rows} 行（各格子 {per} 個の学習率）中 "
                "{settled} 行です。"),
    "needed": (" About {needed} seeds would make every row's best stand that far above its runner-up (from "
               "these seeds' spread; reglab run lr-and-decay --seeds {needed}).",
               "すべての行で最良が次点をそれだけ上回るには、約 {needed} シードが必要です（このシードのばらつきからの目安。"
               "reglab run lr-and-decay --seeds {needed}）。"),
    "needed_none": (" In some row the best and the runner-up are equal on average: more seeds alone would not "
                    "separate them.",
                    "最良と次点の平均が等しい行があり、シードを増やすだけでは分かれません。"),
    "left_out": ("At learning rate{plural} {rows} the best decay of {which} is at an end of its grid (the "
                 "smallest or largest decay it holds), so the grid does not locate it there: {them} {are} left out.",
                 "学習率 {rows} では{which}の最良の減衰が格子の端（最小または最大の減衰）にあり、この格子では位置が"
                 "決まらないため除いています。"),
    "both": ("one grid or both", "一方または両方の格子"),
    "too_few": ("Fewer than two learning rates locate the best decay inside both grids, so the grid does not "
                "decide whether it depends less on the learning rate with {b} than with {a}, as Loshchilov & "
                "Hutter (2019) report. A grid whose decays reach past the ends found here would.",
                "両方の格子の内側で最良の減衰が決まる学習率が 2 つ未満のため、{b} のほうが {a} より最良の減衰が学習率に"
                "依存しにくいか（Loshchilov & Hutter (2019) の報告）は、この格子では決まりません。ここで見つかった端の"
                "先まで減衰を広げた格子なら決められます。"),
    "to": ("{a} to {b}", "{a} から {b}"),
}


def s(lang: str, key: str, **values: object) -> str:
    en, ja = TEXT[key]
    return (ja if lang == "ja" else en).format(**values)


def sentences(sweeps: list[SweepAnalysis], lang: str) -> list[str]:
    shift = decay_shift(sweeps)
    if shift is None:
        return []
    (a, b), (da, db) = shift.names, shift.spans

    def span_range(r: tuple[float, float]) -> str:
        return f"{r[0]:.0e}" if r[0] == r[1] else s(lang, "to", a=f"{r[0]:.0e}", b=f"{r[1]:.0e}")

    metric = METRIC[shift.metric][1 if lang == "ja" else 0]
    space = "" if lang == "ja" else " "
    left = ""
    if shift.rows_left_out:
        n = len(shift.rows_left_out)
        left = s(lang, "left_out", plural="s" if n > 1 else "", rows=", ".join(f"{r:.0e}" for r in shift.rows_left_out),
                 which=s(lang, "both"), them="they" if n > 1 else "it", are="are" if n > 1 else "is")
    if len(shift.rows_used) < 2:
        return [left + space + s(lang, "too_few", a=a, b=b) if left else s(lang, "too_few", a=a, b=b)]
    text = s(lang, "spans", rows=", ".join(f"{r:.0e}" for r in shift.rows_used), metric=metric, a=a, b=b, da=f"{da:.1f}", db=f"{db:.1f}", ra=span_range(shift.ranges[0]),
             rb=span_range(shift.ranges[1]), step=f"{shift.step:.1f}")
    text += space + s(lang, "resampled", n=shift.seeds, resamples=shift.resamples, a=a, b=b,
                                              second=round(shift.share_second_less * 100),
                                              first=round(shift.share_first_less * 100))
    if left:
        text = left + space + text
    verdict = shift.verdict
    if verdict is not None:
        return [text + space + s(lang, verdict, a=a, b=b)]
    text += space + s(lang, "undecided", a=a, b=b, support=round(SUPPORT * 100))
    text += s(lang, "settled", settled=shift.settled_rows, rows=shift.rows, per=len(shift.rows_used), se=SETTLED_SE)
    if shift.seeds_needed is None:
        text += s(lang, "needed_none")
    elif shift.seeds_needed > shift.seeds:
        text += s(lang, "needed", needed=shift.seeds_needed)
    return [text]
