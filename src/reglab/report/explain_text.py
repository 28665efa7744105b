"""The report's section "What the networks look at" (issue 27), in English and Japanese.

From stored results alone: per-class effects against the baseline (from the stored predictions,
analysis/class_effects.py), the first layer's units of an MLP (explain_figures.first_units), and,
once `reglab explain` has stored attribution maps (explanations.json), how sparse, concentrated and
stable each variant's explanations are, what changed against the baseline, and whether the maps
passed their sanity checks. Every verdict is Bonferroni-adjusted and printed with its adjusted
interval; a comparison that does not reject is "undecided", never "no effect".
"""

from __future__ import annotations

from typing import Any

from reglab.analysis import class_effects as CE
from reglab.analysis.analyze import Analysis
from reglab.analysis.statistics import ALPHA, MIN_SEEDS, Interval
from reglab.report.html_parts import Html, figure, join, number, p_value, table, tag, with_ci

MAX_SENTENCES = 12

STRINGS: dict[str, tuple[str, str]] = {
    "sec_explain": ("What the networks look at", "ネットワークが何を見ているか"),
    "classes_intro": ("Which classes each technique helps or hurts against its baseline: the change in the "
                      "class's recall (the share of its test images labelled correctly), paired by seed, "
                      "Bonferroni-adjusted over the {k} classes; the interval is the adjusted one ({level}%). "
                      "Confusions: the baseline's {pairs} most frequent mistakes (true → predicted), tested the "
                      "same way; a fall is a confusion removed.",
                      "各手法が基準と比べてどのクラスを助け、どのクラスを損なうか: クラスごとの再現率（そのクラスのテスト画像を"
                      "正しく分類した割合）の変化を、シードごとに対応づけて比べ、{k} クラスにわたって Bonferroni 補正しています。"
                      "区間は補正後のもの（{level}%）です。混同: 基準で最も多い {pairs} 組の誤り（正解 → 予測）を同じ方法で検定し、"
                      "減少は混同が解消されたことを意味します。"),
    "class_helps": ("{variant} helps class {label} by {diff} points [{low}, {high}] (adjusted p = {p}, {seeds} seeds).",
                    "{variant} はクラス {label} の再現率を {diff} ポイント改善します [{low}, {high}]（補正後 p = {p}、{seeds} シード）。"),
    "class_hurts": ("{variant} hurts class {label} by {diff} points [{low}, {high}] (adjusted p = {p}, {seeds} seeds).",
                    "{variant} はクラス {label} の再現率を {diff} ポイント下げます [{low}, {high}]（補正後 p = {p}、{seeds} シード）。"),
    "confusion_helps": ("{variant} removes part of the confusion {label}: {diff} points [{low}, {high}] "
                        "(adjusted p = {p}).",
                        "{variant} は混同 {label} を減らします: {diff} ポイント [{low}, {high}]（補正後 p = {p}）。"),
    "confusion_hurts": ("{variant} adds to the confusion {label}: {diff} points [{low}, {high}] (adjusted p = {p}).",
                        "{variant} は混同 {label} を増やします: {diff} ポイント [{low}, {high}]（補正後 p = {p}）。"),
    "classes_none": ("No class or confusion is shown helped or hurt by any technique at these seeds: undecided, "
                     "which is not the same as no effect (more seeds narrow the intervals).",
                     "この数のシードでは、どの手法もクラスや混同を助ける・損なうとは示されませんでした。判定保留であり、"
                     "効果がないという意味ではありません（シードを増やすと区間が狭まります）。"),
    "too_few_seeds": ("Verdicts need at least {min} paired seeds and this study has {n}: every comparison here is "
                      "undecided; the largest changes, with their adjusted intervals, are listed for reading only. "
                      "Run with --seeds {min} or more to decide them.",
                      "判定には対応づけたシードが {min} 以上必要ですが、この研究は {n} です。ここでの比較はすべて判定保留で、"
                      "最大の変化を補正後の区間とともに参考として示します。判定するには --seeds {min} 以上で実行してください。"),
    "class_change": ("{variant}, class {label}: {diff} points [{low}, {high}] (undecided).",
                     "{variant}、クラス {label}: {diff} ポイント [{low}, {high}]（判定保留）。"),
    "change_undecided": ("{variant}, {measure}: {diff} [{low}, {high}] against {baseline} (undecided).",
                         "{variant}、{measure}: {baseline} に対して {diff} [{low}, {high}]（判定保留）。"),
    "classes_few": ("Per-class effects need at least two paired seeds; this study has fewer.",
                    "クラスごとの効果には対応づけたシードが 2 つ以上必要ですが、この研究にはありません。"),
    "fig_units_title": ("First layer: the incoming weights of hidden units 1-12 (first seed)",
                        "第 1 層: 隠れユニット 1〜12 への入力重み（最初のシード）"),
    "units_caption": ("Each row shows the first seed's first dense layer of one variant: each small image holds the "
                      "weights from every pixel to one hidden unit (red positive, blue negative, one scale per row). "
                      "The same units start from the same initial weights in every variant, so a row shows what a "
                      "technique made of the same starting templates: L1 tends to leave sparse, localized "
                      "templates, L2 and dropout smoother ones.",
                      "各行は 1 つのバリアントの最初のシードの第 1 全結合層です。小さな画像 1 枚が、全画素から 1 つの隠れユニット"
                      "への重みを表します（赤が正、青が負、行ごとに同じ尺度）。同じユニットはどのバリアントでも同じ初期重みから"
                      "始まるので、同じ出発点から各手法が何を作ったかを比べられます。L1 は疎で局所的な型を、L2 やドロップアウトは"
                      "滑らかな型を残しやすい傾向があります。"),
    "explain_missing": ("Attribution maps are not stored yet: `reglab explain {path}` computes them once (saliency "
                        "by default; --method integrated_gradients, smoothgrad or occlusion for others) and this "
                        "section then compares them across techniques and seeds.",
                        "帰属マップはまだ保存されていません。`reglab explain {path}` で一度だけ計算すると（既定は saliency。"
                        "--method で integrated_gradients、smoothgrad、occlusion も選べます）、この節で手法とシードをまたいで"
                        "比較します。"),
    "method_saliency": ("saliency", "サリエンシー"),
    "method_integrated_gradients": ("integrated gradients", "積分勾配"),
    "method_smoothgrad": ("SmoothGrad", "SmoothGrad"),
    "method_occlusion": ("occlusion", "遮蔽"),
    "maps_intro": ("{method}: {images} test images, each explained for its true class, in every run. Sparsity is the "
                   "Gini index of |map| (0: spread evenly, 1: on one pixel); concentration the share of |map| in its "
                   "top 10% of pixels; stability Spearman's ρ between one seed's map and the mean map of the "
                   "variant's other seeds for the same image; distance 1 − ρ against the baseline's map of the same "
                   "seed. Intervals: 95%, over seeds.",
                   "{method}: 各実行で {images} 枚のテスト画像を、それぞれ正解クラスについて説明しました。疎さは |マップ| の"
                   "ジニ係数（0: 均等、1: 1 画素に集中）、集中度は上位 10% の画素が占める |マップ| の割合、安定性は同じ画像に"
                   "対する、あるシードのマップと同じバリアントの他のシードの平均マップとのスピアマンの ρ、距離は同じシードの基準の"
                   "マップとの 1 − ρ です。区間は 95%、シードにわたるものです。"),
    "col_variant": ("variant", "バリアント"),
    "col_sparsity": ("sparsity (Gini)", "疎さ（ジニ）"),
    "col_concentration": ("top-10% share", "上位10%の割合"),
    "col_stability": ("stability (ρ)", "安定性（ρ）"),
    "col_distance": ("distance from baseline", "基準からの距離"),
    "change_higher": ("{variant} makes {method} explanations {more} than {baseline}: {diff} [{low}, {high}] "
                      "(adjusted p = {p}, {pairs} {unit}).",
                      "{variant} は {baseline} より {method} の説明を{more_ja}します: {diff} [{low}, {high}]"
                      "（補正後 p = {p}、{pairs} {unit_ja}）。"),
    "more_sparsity": ("sparser", "疎に"), "less_sparsity": ("less sparse", "密に"),
    "more_concentration": ("more concentrated", "集中"), "less_concentration": ("less concentrated", "分散"),
    "more_stability": ("more stable across seeds", "シード間で安定"),
    "less_stability": ("less stable across seeds", "シード間で不安定に"),
    "unit_seeds": ("seeds", "シード"),
    "changes_none": ("No technique is shown to change how sparse, concentrated or stable the {method} explanations "
                     "are (Bonferroni over {m} variants): undecided.",
                     "{method} の説明の疎さ・集中度・安定性を変えると示された手法はありません（{m} バリアントで Bonferroni "
                     "補正）: 判定保留です。"),
    "sanity_intro": ("Sanity checks (Adebayo et al. 2018; Petsiuk et al. 2018), on each variant's first seed: "
                     "after randomizing every layer from the output down, the maps should no longer resemble the "
                     "trained network's (reglab's rule: the 95% interval of ρ below {limit}); and deleting pixels in "
                     "the map's order should lower the class's probability sooner than deleting them at random "
                     "(a negative difference of areas).",
                     "健全性の確認（Adebayo ら 2018、Petsiuk ら 2018）を各バリアントの最初のシードで行いました: 出力側から"
                     "すべての層をランダム化すると、マップは学習済みネットワークのものと似なくなるはずです（reglab の規則: ρ の"
                     "95% 区間が {limit} 未満）。また、マップの順に画素を消すと、ランダムな順より早くクラスの確率が下がるはず"
                     "です（面積の差が負）。"),
    "sanity_pass": ("{method}: the maps depend on the model in all {n} variants checked (ρ with the randomized "
                    "network {rho}); deleting by the map lowers the class probability sooner than chance "
                    "(area difference {deletion}).",
                    "{method}: 確認した {n} バリアントすべてでマップはモデルに依存しています（ランダム化したネットワークとの"
                    " ρ {rho}）。マップの順に消すとランダムより早くクラスの確率が下がります（面積の差 {deletion}）。"),
    "sanity_fail": ("{method}: in {bad} of {n} variants the maps still resemble those of the fully randomized "
                    "network (ρ {rho}): these maps say more about the input than about what the network learned, "
                    "and the comparisons above should not be read as what the networks look at.",
                    "{method}: {n} バリアント中 {bad} で、マップが完全にランダム化したネットワークのものとまだ似ています"
                    "（ρ {rho}）。これらのマップは学習内容より入力そのものを反映しており、上の比較をネットワークが見ているもの"
                    "として読むべきではありません。"),
    "sanity_undecided": ("{method}: the randomization test is undecided in {bad} of {n} variants (ρ {rho}).",
                         "{method}: {n} バリアント中 {bad} でランダム化テストは判定保留です（ρ {rho}）。"),
    "fig_maps_title": ("Where each variant looks: mean |{method}| over seeds", "各バリアントが見ている場所: シード平均の |{method}|"),
    "maps_input": ("input", "入力"),
    "maps_caption": ("Each panel is scaled to its own maximum: it shows where a network looks, not how strongly.",
                     "各パネルはそれぞれの最大値で正規化しています。強さではなく、どこを見ているかを示します。"),
}


def s(lang: str, key: str, **values: object) -> str:
    en, ja = STRINGS[key]
    text = ja if lang == "ja" else en
    return text.format(**values) if values else text


def section(analysis: Analysis, pngs: dict[str, bytes], lang: str) -> Html:
    parts = [_class_effects(analysis, lang)]
    if "first_units" in pngs:
        parts.append(figure("first_units", pngs, s(lang, "units_caption")))
    explained = analysis.collected.explanations
    try:
        methods = [_method(method, content, len(explained["images"]), pngs, lang)
                   for method, content in explained["methods"].items()] if explained else []
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        # explanations.json with a valid checksum but not the shape `reglab explain` writes: the
        # section says how to make it again instead of failing the whole report.
        methods = []
    parts += methods or [tag("p", s(lang, "explain_missing", path=str(analysis.collected.root)), class_="caption")]
    return join(parts)


def _class_effects(analysis: Analysis, lang: str) -> Html:
    effects = CE.for_study(analysis.variants, analysis.collected.test_labels, analysis.class_names)
    if not effects:
        return Html("")
    seeds = max((e.seeds for row in effects for e in row.classes), default=0)
    if seeds < 2:
        return tag("p", s(lang, "classes_few"))
    k = len(effects[0].classes)
    level = round((1 - ALPHA / max(k, 1)) * 100, 1)
    intro = tag("p", s(lang, "classes_intro", k=k, level=level, pairs=CE.CONFUSION_PAIRS))

    def values(e: CE.ClassEffect) -> dict[str, str]:
        return dict(label=e.label, diff=number(e.difference.mean, 1, 100, sign=True),
                    low=number(e.difference.low, 1, 100), high=number(e.difference.high, 1, 100),
                    p=p_value(e.p), seeds=e.seeds)

    if seeds < MIN_SEEDS:
        largest = sorted(((row.variant, e) for row in effects for e in row.classes),
                         key=lambda pair: -abs(pair[1].difference.mean or 0))[:5]
        return join([intro, tag("p", s(lang, "too_few_seeds", min=MIN_SEEDS, n=seeds)),
                     tag("ul", *(tag("li", s(lang, "class_change", variant=v, **values(e))) for v, e in largest))])
    sentences = [s(lang, f"{kind}_{e.verdict}", variant=row.variant, **values(e))
                 for row in effects for kind, items in (("class", row.classes), ("confusion", row.confusions))
                 for e in items if e.verdict != CE.UNDECIDED]
    body = tag("ul", *(tag("li", x) for x in sentences[:MAX_SENTENCES])) if sentences else tag("p", s(lang, "classes_none"))
    return join([intro, body])


def _interval(raw: dict[str, Any] | None, digits: int = 2) -> str:
    """An interval as explanations.json stores it (Interval.to_json), written as the report writes one."""
    return with_ci(Interval(**raw) if raw else None, digits)


def _method(method: str, content: dict[str, Any], images: int, pngs: dict[str, bytes], lang: str) -> Html:
    name = s(lang, f"method_{method}")
    rows = [(v["variant"], _interval(v["sparsity"]), _interval(v["concentration"]), _interval(v["stability"]),
             _interval(v["distance_from_baseline"])) for v in content.get("variants", [])]
    headers = [s(lang, k) for k in ("col_variant", "col_sparsity", "col_concentration", "col_stability", "col_distance")]
    changes_all = content.get("changes", [])
    decided = [c for c in changes_all if c["verdict"] != "undecided"]
    compared = len({c["variant"] for c in changes_all})
    pairs = max((c["pairs"] for c in changes_all), default=0)
    sentences = []
    for c in decided:
        d = Interval(**c["difference"])
        more = ("more_" if c["verdict"] == "higher" else "less_") + c["measure"]
        sentences.append(s(lang, "change_higher", variant=c["variant"], baseline=c["baseline"], method=name,
                           more=s("en", more), more_ja=s("ja", more), diff=number(d.mean, 3, sign=True),
                           low=number(d.low, 3), high=number(d.high, 3), p=p_value(c["adjusted_p"]),
                           pairs=c["pairs"], unit=s("en", "unit_seeds"), unit_ja=s("ja", "unit_seeds")))
    if sentences:
        changes = tag("ul", *(tag("li", x) for x in sentences[:MAX_SENTENCES]))
    elif 2 <= pairs < MIN_SEEDS:
        largest = sorted(changes_all, key=lambda c: -abs(c["difference"]["mean"] or 0))[:5]
        changes = join([tag("p", s(lang, "too_few_seeds", min=MIN_SEEDS, n=pairs)), tag("ul", *(
            tag("li", s(lang, "change_undecided", variant=c["variant"], baseline=c["baseline"],
                        measure=s(lang, f"col_{c['measure']}"), diff=number(c["difference"]["mean"], 3, sign=True),
                        low=number(c["difference"]["low"], 3), high=number(c["difference"]["high"], 3)))
            for c in largest))])
    else:
        changes = tag("p", s(lang, "changes_none", method=name, m=compared))
    parts = [tag("h3", name), tag("p", s(lang, "maps_intro", method=name, images=images)),
             table(headers, rows, numeric=(1, 2, 3, 4)), changes]
    if f"maps_{method}" in pngs:
        parts.append(figure(f"maps_{method}", pngs, s(lang, "maps_caption")))
    parts.append(_sanity(name, content.get("sanity", []), lang))
    return join(parts)


def _sanity(name: str, rows: list[dict[str, Any]], lang: str) -> Html:
    if not rows:
        return Html("")
    verdicts = [r["randomization"]["verdict"] for r in rows]
    finals = [r["randomization"]["stages"][-1]["correlation"]["mean"] for r in rows if r["randomization"]["stages"]]
    rho = f"{min(finals):.2f}–{max(finals):.2f}" if finals else "–"
    deletions = [r["faithfulness"]["deletion_minus_random"]["mean"] for r in rows]
    deletion = f"{min(deletions):+.3f}…{max(deletions):+.3f}".replace("-", "−") if deletions else "–"
    bad = sum(v == "independent_of_model" for v in verdicts)
    unsure = sum(v == "undecided" for v in verdicts)
    if bad:
        text = s(lang, "sanity_fail", method=name, bad=bad, n=len(rows), rho=rho)
    elif unsure:
        text = s(lang, "sanity_undecided", method=name, bad=unsure, n=len(rows), rho=rho)
    else:
        text = s(lang, "sanity_pass", method=name, n=len(rows), rho=rho, deletion=deletion)
    return join([tag("p", s(lang, "sanity_intro", limit=rows[0]["randomization"].get("limit", 0.5))), tag("p", text)])
