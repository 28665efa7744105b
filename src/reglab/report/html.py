"""report.html: one self-contained file. Figures are PNG data URIs, the CSS and a Japanese font
subset are inline, there is no JavaScript, nothing is fetched: the page opens from disk, offline.

Every string that comes from a run directory (study, variant and class names, descriptions, the
study file, paths) goes through `esc`; markup is built only from this module's and i18n's strings.
"""

from __future__ import annotations

import json
from typing import Any

from reglab import __version__
from reglab.analysis import diagnostics as D
from reglab.analysis import trajectories as T
from reglab.analysis import weights as W
from reglab.analysis.analyze import SWEEP_POINTS_DRAWN, Analysis, VariantAnalysis
from reglab.analysis.findings import Finding, technique
from reglab.analysis.onset import RISE_MARGIN, SMOOTHING_WIDTH
from reglab.analysis.statistics import (ALPHA, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, MIN_SEEDS, NON_NEGATIVE,
                                       PROPORTION, t_interval)
from reglab.report import explain_text, fonts, sweep_text
from reglab.techniques import registry
from reglab.report.i18n import KEY_NAMES_JA, class_names, data_note, t

from reglab.report.html_parts import (  # noqa: F401  (the sections' primitives, imported from here too)
    PERCENT, DASH, Html, esc, join, tag, table, figure, number, with_ci, plural, p_value,
)


# ----------------------------------------------------------------------------------- page


def render(analysis: Analysis, found: list[Finding], pngs: dict[str, bytes], lang: str) -> str:
    collected = analysis.collected
    study_name = collected.study.get("name") or collected.manifest.get("study") or collected.root.name
    sections = [
        ("missing", t(lang, "sec_missing"), _missing(analysis, lang)) if analysis.missing else None,
        # A sweep's question (which strength?) comes first: the findings below list every point.
        ("sweeps", sweep_text.s(lang, "sec_sweeps"), sweep_text.section(analysis.sweeps, pngs, lang))
        if analysis.sweeps else None,
        ("findings", t(lang, "sec_findings"), _findings(found, lang)),
        ("accuracy", t(lang, "sec_accuracy"), _accuracy(analysis, pngs, lang)),
        ("curves", t(lang, "sec_curves"), _curves(analysis, pngs, lang)),
        ("gap", t(lang, "sec_gap"), figure("generalization_gap", pngs, t(lang, "gap_caption"))),
        ("lr", t(lang, "sec_lr"), figure("learning_rate", pngs, t(lang, "lr_caption"))),
        ("errors", t(lang, "sec_errors"), _errors(analysis, pngs, lang)),
        ("weights", t(lang, "sec_weights"), _weights(analysis, pngs, lang)),
        ("explain", explain_text.s(lang, "sec_explain"), explain_text.section(analysis, pngs, lang)),
        ("model", t(lang, "sec_model"), _model(analysis, lang)),
        ("techniques", t(lang, "sec_techniques"), _techniques(analysis, lang)),
        ("method", t(lang, "sec_method"), _method(lang)),
        ("config", t(lang, "sec_config"), _configuration(analysis, lang)),
    ]
    sections = [s for s in sections if s is not None]
    drawn = len(analysis.as_drawn().variants)
    if drawn < len(analysis.variants):  # said where the per-variant figures begin
        note = tag("p", t(lang, "figures_thinned", shown=drawn, total=len(analysis.variants),
                          limit=SWEEP_POINTS_DRAWN), class_="caption")
        sections = [(key, title, join([note, content]) if key == "accuracy" else content)
                    for key, title, content in sections]
    contents = tag("nav", tag("b", t(lang, "contents")),
                   tag("ol", *(tag("li", tag("a", title, href=f"#{key}")) for key, title, _ in sections)))
    body = join([
        tag("header", tag("h1", t(lang, "title", study=study_name)), _subtitle(analysis, lang),
            tag("p", t(lang, "source", path=str(collected.root)), class_="source")),
        contents,
        *(tag("section", tag("h2", title), content, id=key) for key, title, content in sections),
    ])
    page_text = body + t(lang, "title", study=study_name)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(t(lang, 'title', study=study_name))}</title>\n"
        f"<style>\n{fonts.font_face(page_text)}\n{CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _subtitle(analysis: Analysis, lang: str) -> Html:
    data = analysis.collected.data
    splits = data.get("splits") or {}
    unknown = t(lang, "unknown")
    variants, seeds = len(analysis.variants), len(analysis.collected.seeds)
    return tag("p", t(lang, "subtitle", variants=variants, seeds=seeds, variants_en=plural(variants, "variant"),
                      seeds_en=plural(seeds, "seed"),
                      dataset=data.get("dataset") or unknown, train=splits.get("train", unknown),
                      val=splits.get("validation", unknown), test=splits.get("test", unknown)), class_="subtitle")


def _missing(analysis: Analysis, lang: str) -> Html:
    def detail(text: str) -> str:
        return t(lang, f"detail_{text}") if text in ("missing", "unreadable", "in_progress") else text
    items = [tag("li", tag("code", m.path), " — ", t(lang, f"missing_{m.kind}"),
                 f" ({detail(m.detail)})" if m.detail else "") for m in analysis.missing]
    return tag("div", tag("p", t(lang, "missing_intro")), tag("ul", *items), class_="warning")


def _findings(found: list[Finding], lang: str) -> Html:
    if not found:
        return tag("p", t(lang, "no_findings"))
    items = []
    for f in found:
        text = f.text(lang)
        # The variant's name leads its finding: in bold, so that a reader can scan the list.
        if f.variant and text.startswith(f.variant):
            text = join([tag("b", f.variant), text[len(f.variant):]])
        items.append(tag("li", text, class_=" ".join(filter(None, [f.kind, f.verdict]))))
    return tag("ul", *items, class_="findings")


def _accuracy(analysis: Analysis, pngs: dict[str, bytes], lang: str) -> Html:
    caption = t(lang, "accuracy_caption", confidence=PERCENT, alpha=ALPHA, min_seeds=MIN_SEEDS)
    rows = []
    for v in analysis.variants:
        description = (v.spec.get("description_ja") if lang == "ja" else None) or v.description
        rows.append([v.name, description, with_ci(v.metrics["test_accuracy"], 2, 100),
                     with_ci(v.metrics["test_loss"], 4), number(v.metrics["best_val_loss"].mean, 4),
                     f"{v.metrics['test_accuracy'].n}/{len(v.seeds)}", len(v.diverged) or "",
                     number(v.metrics["seconds"].mean, 1)])
    rows += _reference_rows(analysis, lang)
    variants = table([t(lang, "col_variant"), t(lang, "col_description"),
                      t(lang, "col_test_accuracy", confidence=PERCENT), t(lang, "col_test_loss", confidence=PERCENT),
                      t(lang, "col_best_val_loss"), t(lang, "col_seeds"), t(lang, "col_diverged"),
                      t(lang, "col_seconds")], rows, numeric=(2, 3, 4, 5, 6, 7), prose=(1,))
    comparisons = analysis.comparisons.get("test_accuracy", [])
    if not comparisons:
        return join([figure("test_accuracy", pngs, caption), tag("h3", t(lang, "table_variants")), variants,
                     tag("h3", t(lang, "table_comparisons")), tag("p", t(lang, "no_comparisons"))])
    main, tests = [], []
    for c in comparisons:
        v = analysis.variant(c.variant)
        loss = analysis.comparison("test_loss", c.variant)
        verdict = t(lang, f"verdict_{c.verdict}", min_seeds=MIN_SEEDS)
        main.append([c.variant, c.baseline, ("、" if lang == "ja" else ", ").join(
                         technique(k, lang) for k in (v.changes if v else [])),
                     with_ci(c.difference, 2, 100, sign=True), f"{c.better}/{c.n}",
                     tag("span", verdict, class_=f"verdict {c.verdict}"), p_value(c.holm_p)])
        tests.append([c.variant, p_value(c.t_p), p_value(c.wilcoxon_p), DASH if c.bootstrap_low is None else
                      f"[{number(c.bootstrap_low, 2, 100)}, {number(c.bootstrap_high, 2, 100)}]",
                      number(c.effect_size, 2), with_ci(loss.difference if loss else None, 4, sign=True),
                      p_value(loss.holm_p if loss else None)])
    return join([
        figure("test_accuracy", pngs, caption), tag("h3", t(lang, "table_variants")), variants,
        tag("h3", t(lang, "table_comparisons")),
        table([t(lang, "col_variant"), t(lang, "col_baseline"), t(lang, "col_changes"),
               t(lang, "col_difference", confidence=PERCENT), t(lang, "col_better"), t(lang, "col_verdict"),
               t(lang, "col_holm_p")], main, numeric=(3, 4, 6), prose=(2,)),
        tag("h3", t(lang, "table_tests")),
        table([t(lang, "col_variant"), t(lang, "col_t_p"), t(lang, "col_wilcoxon_p"),
               t(lang, "col_bootstrap", confidence=PERCENT), t(lang, "col_effect"),
               t(lang, "col_loss_difference", confidence=PERCENT), t(lang, "col_loss_holm_p")], tests,
              numeric=(1, 2, 3, 4, 5, 6)),
    ])


def _reference_rows(analysis: Analysis, lang: str) -> list[list[object]]:
    """The study's scikit-learn references (references.json), as rows beside the variants: the same
    splits, the same test metrics and intervals over seeds; no validation loss, no epochs."""
    rows = []
    for name in analysis.collected.study.get("references", []):
        runs = [r for r in analysis.collected.references if r.get("name") == name]
        if not runs:
            continue
        accuracy = t_interval([r["test_accuracy"] for r in runs], bounds=PROPORTION)
        loss = t_interval([r["test_loss"] for r in runs], bounds=NON_NEGATIVE)
        rows.append([f"({t(lang, f'ref_short_{name}')})", t(lang, f"ref_{name}"), with_ci(accuracy, 2, 100),
                     with_ci(loss, 4), DASH, f"{len(runs)}/{len(runs)}", "",
                     number(sum(r["seconds"] for r in runs) / len(runs), 1)])
    return rows


def _curves(analysis: Analysis, pngs: dict[str, bytes], lang: str) -> Html:
    rows = []
    for v in analysis.variants:
        per_seed = ", ".join(DASH if e is None else str(e) for e in v.onset.per_seed.values())
        spread = v.onset
        mean = DASH if spread.mean is None else f"{spread.mean:.1f}" + (
            f" ± {spread.std:.1f}" if spread.std is not None else "")
        rows.append([v.name, per_seed, mean, f"{spread.turned}/{spread.runs}", spread.epochs,
                     with_ci(v.metrics.get("final_loss_gap"), 3)])
    onset_table = table([t(lang, "col_variant"), t(lang, "col_onset_seeds"), t(lang, "col_onset_mean"),
                         t(lang, "col_turned"), t(lang, "col_epochs"), t(lang, "col_gap")], rows,
                        numeric=(2, 3, 4, 5))
    lagging = [v.name for v in analysis.variants if (lag := D.norm_lag(v.norm_check)) and lag.lagging * 2 >= lag.runs]
    norm_note = tag("p", t(lang, "norm_lag_caption", variants=", ".join(lagging)), class_="caption warning") \
        if lagging else ""
    return join([tag("p", Html(t(lang, "overfitting_html"))),
                 figure("learning_curves_loss", pngs), figure("learning_curves_accuracy", pngs),
                 tag("p", t(lang, "curves_caption"), class_="caption"), norm_note,
                 tag("h3", t(lang, "onset_table")), onset_table])


def _errors(analysis: Analysis, pngs: dict[str, bytes], lang: str) -> Html:
    focus = analysis.variant(analysis.focus) if analysis.focus else None
    if focus is None or focus.per_class is None:
        return tag("p", t(lang, "no_test_split"))
    names = class_names(analysis.class_names, analysis.collected.data.get("dataset"), lang)
    per_class = focus.per_class
    class_rows = [[names[i] if i < len(names) else i, number(per_class["precision"][i], 3),
                   number(per_class["recall"][i], 3), number(per_class["f1"][i], 3), per_class["support"][i]]
                  for i in range(len(per_class["f1"]))]
    pairs = analysis.confused_pairs()
    pair_rows = [[names[p["true"]], names[p["predicted"]], f"{p['per_seed']:.1f}",
                  number(p["share_of_true"], 1, 100) + "%"] for p in pairs]
    seed = min(focus.predictions) if focus.predictions else DASH
    return join([
        tag("p", t(lang, "errors_intro_sweep" if any(focus.name == sw.chosen for sw in analysis.sweeps)
                   else "errors_intro", variant=focus.name, seeds=len(focus.predictions),
                   seeds_en=plural(len(focus.predictions), "seed"), seed=seed)),
        figure("confusion_matrix", pngs, t(lang, "confusion_caption")),
        tag("h3", t(lang, "per_class_table")),
        table([t(lang, "col_class"), t(lang, "col_precision"), t(lang, "col_recall"), t(lang, "col_f1"),
               t(lang, "col_support")], class_rows, numeric=(1, 2, 3, 4)),
        tag("h3", t(lang, "pairs_table")),
        table([t(lang, "col_true"), t(lang, "col_predicted"), t(lang, "col_count_per_seed"),
               t(lang, "col_share_of_true")], pair_rows, numeric=(2, 3)) if pairs else tag("p", t(lang, "no_confusions")),
        figure("misclassified", pngs, t(lang, "gallery_caption")),
        figure("sample_predictions", pngs, t(lang, "samples_caption")),
        figure("per_class_f1", pngs, t(lang, "f1_caption")),
    ])


def _weights(analysis: Analysis, pngs: dict[str, bytes], lang: str) -> Html:
    if not analysis.histograms:
        return tag("p", t(lang, "no_weights"))
    return join([tag("p", Html(t(lang, "weights_intro_html", threshold=f"{W.NEAR_ZERO:g}"))),
                 _weights_measured(analysis, lang),
                 figure("sparsity", pngs, t(lang, "sparsity_caption_layers" if analysis.per_layer else "sparsity_caption")),
                 figure("weight_histograms", pngs,
                        t(lang, "histogram_caption_layers" if analysis.per_layer else "histogram_caption")),
                 figure("conv_filters", pngs, t(lang, "filters_caption")),
                 figure("pair_distance", pngs, t(lang, "pair_distance_caption", buckets=analysis.sketch_buckets,
                                                  error=round(2 * T.relative_std(analysis.sketch_buckets or 1) * 100))),
                 figure("weight_norms", pngs, t(lang, "weight_norm_caption"))])


# Shares within this many points of the baseline's are "about as many" (a share of a few hundred
# thousand weights moves by less than that from seed to seed in the studies here).
SAME_SHARE_POINTS = 1.0


def _weights_measured(analysis: Analysis, lang: str) -> Html:
    """What the penalties did here, read from the near-zero shares the figure below draws: each
    variant's share, and for each variant with a baseline, whether it has more or fewer."""
    shares = {v.name: v.hidden_sparsity.mean for v in analysis.variants
              if v.hidden_sparsity is not None and v.hidden_sparsity.mean is not None}
    if not shares:
        return Html("")
    percent = {name: f"{share * 100:.1f}%" for name, share in shares.items()}
    sentence = t(lang, "weights_measured", shares=", ".join(f"{name} {percent[name]}" for name in shares))
    compared = []
    for v in analysis.variants:
        if v.name in shares and v.baseline in shares and v.baseline != v.name:
            points = (shares[v.name] - shares[v.baseline]) * 100
            more = ("weights_as_many" if abs(points) < SAME_SHARE_POINTS else
                    "weights_more" if points > 0 else "weights_fewer")
            compared.append(t(lang, more, variant=v.name, baseline=v.baseline, share=percent[v.name],
                              base_share=percent[v.baseline]))
    separator = "。" if lang == "ja" else "; "
    text = sentence + (" " + separator.join(compared) + ("。" if lang == "ja" else ".") if compared else "")
    return tag("p", text, class_="weights-measured")


def _model(analysis: Analysis, lang: str) -> Html:
    groups: dict[str, list[VariantAnalysis]] = {}
    for v in analysis.variants:
        if v.model:
            groups.setdefault(json.dumps(v.model, sort_keys=True), []).append(v)
    if not groups:
        return tag("p", t(lang, "no_model"))
    parts = []
    for members in groups.values():
        rows = members[0].model
        total, trainable = sum(r.get("params", 0) for r in rows), sum(r.get("trainable", 0) for r in rows)
        parts.append(tag("div", tag("h3", t(lang, "model_for", names=", ".join(v.name for v in members))),
                         table([t(lang, "col_layer"), t(lang, "col_shape"), t(lang, "col_params")],
                               [[r.get("layer", ""), r.get("output_shape", ""), f"{r.get('params', 0):,}"]
                                for r in rows], numeric=(2,)),
                         tag("p", t(lang, "total_params", total=f"{total:,}", trainable=f"{trainable:,}"))))
    return tag("div", *parts, class_="models")


def _techniques(analysis: Analysis, lang: str) -> Html:
    # What each technique does, quoting the tutorial: its registration's words (trusted markup).
    notes = {key: words.note for key, words in registry.described().items() if words.note}
    used: list[str] = []
    for v in analysis.variants:
        used += [k for k in v.spec if k in notes and k not in ("schedule", "optimizer")]
        if (v.spec.get("schedule") or {}).get("name", "constant") != "constant":
            used.append("schedule")
    if len({(v.spec.get("optimizer") or {}).get("name") for v in analysis.variants}) > 1:
        used.append("optimizer")
    order = [k for k in notes if k in used]
    en_or_ja = 1 if lang == "ja" else 0
    return tag("ul", *(tag("li", Html(notes[k][en_or_ja])) for k in order), class_="techniques")


def _method(lang: str) -> Html:
    return Html(t(lang, "method_html", confidence=PERCENT, resamples=f"{BOOTSTRAP_RESAMPLES:,}",
                  bootstrap_seed=BOOTSTRAP_SEED, alpha=ALPHA, min_seeds=MIN_SEEDS, width=SMOOTHING_WIDTH,
                  margin=round(RISE_MARGIN * 100)))


def _configuration(analysis: Analysis, lang: str) -> Html:
    collected = analysis.collected
    parts: list[object] = [tag("h3", t(lang, "config_seeds")),
                           tag("p", ", ".join(str(s) for s in collected.seeds) or DASH)]
    if collected.environment:
        parts += [tag("h3", t(lang, "config_environment")), _pairs(collected.environment, lang)]
    if collected.data:
        data = {k: v for k, v in collected.data.items() if k not in ("class_names", "source")}
        if isinstance(data.get("notes"), list):
            data["notes"] = [data_note(str(note), lang) for note in data["notes"]]
        source = collected.data.get("source")
        data |= {f"source.{k}": v for k, v in source.items()} if isinstance(source, dict) else {}
        fit = data.get("preprocessing")
        if isinstance(fit, dict) and isinstance(fit.get("output_columns"), list):  # a table's: its inputs, not its numbers
            data["preprocessing"] = f"{fit.get('kind')}: " + ", ".join(map(str, fit["output_columns"]))
        parts += [tag("h3", t(lang, "config_data")), *_what_the_data_were(collected.data, lang),
                  _pairs(data | {"class_names": ", ".join(map(str, collected.data.get("class_names", [])))}, lang)]
    if collected.study_toml:
        parts += [tag("h3", t(lang, "config_toml")), tag("pre", collected.study_toml)]
    if collected.study:
        # Long for a big study: folded (a native <details>, no script), and still in the page.
        parts += [tag("details", tag("summary", t(lang, "config_resolved")),
                      tag("pre", json.dumps(collected.study, indent=2, ensure_ascii=False)))]
    parts += [tag("h3", t(lang, "config_manifest")), _pairs({"path": str(collected.root), **collected.manifest}, lang),
              tag("p", t(lang, "config_report", version=__version__))]
    return join(parts)


def _what_the_data_were(data: dict[str, Any], lang: str) -> list[Html]:
    """A sentence or two on data a user brought (or an embedded table): where from, how big, its
    sha256, the target and features, and that the preprocessing was fitted on training rows only."""
    source = data.get("source")
    if not isinstance(source, dict) or not isinstance(data.get("fingerprint"), str):
        return []
    size = t(lang, "data_size", bytes=source["bytes"]) if isinstance(source.get("bytes"), int) else ""
    where = t(lang, "data_file", path=source["path"]) if isinstance(source.get("path"), str) else data.get("origin")
    lines = [t(lang, "data_what", origin=where or data.get("dataset"), size=size,
               fingerprint=data["fingerprint"])]
    features = source.get("features")
    if data.get("kind") == "table" and isinstance(features, list):
        shown = ", ".join(map(str, features[:12])) + (" ..." if len(features) > 12 else "")
        lines.append(t(lang, "data_table", target=source.get("target"), count=len(features), features=shown))
        lines.append(t(lang, "data_fit_table", train=(data.get("splits") or {}).get("train", "?")))
    return [tag("p", ("" if lang == "ja" else " ").join(lines))]


def _pairs(mapping: dict[str, Any], lang: str) -> Html:
    """A stored key/value table; in Japanese each key is named in Japanese, its stored name beside it."""
    def show(value: Any) -> str:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return "\n".join(value)
        if isinstance(value, bool) and lang == "ja":
            return "はい" if value else "いいえ"
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    def key_name(key: str) -> str:
        last = key.rpartition(".")[2]  # source.path: named as path is
        return f"{KEY_NAMES_JA[last]} ({key})" if lang == "ja" and last in KEY_NAMES_JA else key
    return table(None, [[key_name(key), show(value)] for key, value in mapping.items()])


CSS = """
:root { --ink: #1d2327; --muted: #5f6b73; --line: #d9dee2; --soft: #f4f6f8; --accent: #2563eb; }
* { box-sizing: border-box; }
/* The embedded Japanese subset comes first: it holds only kana and kanji, so Latin text falls through to
   the next fonts. A web font placed later in the list is not waited for, and Chromium then draws the
   first Japanese lines as empty boxes. */
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.6;
  font-family: "reglab-ja", system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
html[lang="ja"] body { line-height: 1.75; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.3rem; margin: 40px 0 12px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.05rem; margin: 24px 0 8px; }
.subtitle { font-size: 1.05rem; margin: 0; }
.source, .caption, figcaption { color: var(--muted); font-size: 0.92rem; }
nav { background: var(--soft); padding: 10px 18px; border-radius: 6px; margin: 18px 0; }
nav ol { margin: 4px 0 0; padding-left: 22px; columns: 2; }
a { color: var(--accent); }
figure { margin: 16px 0 20px; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { margin-top: 6px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.88rem; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.prose { min-width: 12em; }
tbody tr:nth-child(even) { background: #fafbfc; }
pre { background: var(--soft); padding: 12px; border-radius: 6px; overflow-x: auto; font-size: 0.82rem;
  white-space: pre-wrap; word-break: break-word; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.86em; }
details summary { cursor: pointer; font-weight: 600; margin: 24px 0 8px; }
tbody th { background: none; font-weight: 600; }
tr > :first-child { white-space: nowrap; }  /* a variant's or a layer's name is never broken */
.models { display: flex; flex-wrap: wrap; gap: 0 40px; }
ul.findings li { margin: 6px 0; padding-left: 8px; border-left: 3px solid transparent; }
ul.findings li.better { border-left-color: #16a34a; } ul.findings li.worse { border-left-color: #dc2626; }
ul.findings li.best, ul.findings li.few_seeds { font-weight: 600; }
ul.techniques li { margin: 8px 0; }
.warning { background: #fff4e5; border-left: 4px solid #f59e0b; padding: 8px 16px; }
.verdict { white-space: nowrap; padding: 1px 6px; border-radius: 4px; }
.verdict.better { background: #dcfce7; } .verdict.worse { background: #fee2e2; }
.verdict.no_clear_difference { background: var(--soft); } .verdict.not_conclusive { border: 1px dashed var(--muted); }
"""
