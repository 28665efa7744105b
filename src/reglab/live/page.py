"""The live page: one HTML file with its CSS and script inline; it draws on canvas and fetches
nothing but its own server's /events (and, for Japanese text, the font the server serves).

Every string that comes from the study (names, descriptions, findings, file names) reaches the
page as JSON data and is put into the document with textContent or drawn on a canvas, never
parsed as markup. The words of the page come from report/i18n.py where the report has them.
"""

from __future__ import annotations

import functools
import json

# The page's own words; the figure words are the report's (i18n.py), so the two read alike.
WORDS: dict[str, tuple[str, str]] = {
    "title": ("reglab live: {study}", "reglab ライブ: {study}"),
    "connecting": ("connecting …", "接続中 …"),
    "study_training": ("training", "学習中"),
    "study_finished": ("finished", "完了"),
    "study_stopped": ("stopped before every run finished (reglab resume continues it)",
                      "すべての実行が終わる前に停止（reglab resume で再開できます）"),
    "run_waiting": ("waiting", "待機中"),
    "run_training": ("training", "学習中"),
    "run_finished": ("finished", "完了"),
    "run_stopped_early": ("stopped early", "早期終了"),
    "run_diverged": ("diverged", "発散"),
    "run_interrupted": ("interrupted", "中断"),
    "run_damaged": ("damaged record", "壊れた記録"),
    "seed": ("seed {seed}", "シード {seed}"),
    "epochs_of": ("{done}/{total} epochs", "{done}/{total} エポック"),
    "epochs_done": ("{done} epochs", "{done} エポック"),
    "band": ("Line: mean over seeds; band: lowest to highest seed. Solid: validation; dashed: training.",
             "線: シードの平均、帯: シードの最小〜最大。実線: 検証、破線: 訓練。"),
    "report": ("Open the report", "レポートを開く"),
    "no_report": ("No report yet: `reglab report {run_dir}` writes one.",
                  "レポートはまだありません。`reglab report {run_dir}` で作成できます。"),
    "problems": ("These files of the run directory could not be read (the page shows the rest):",
                 "実行ディレクトリの次のファイルを読み取れませんでした（残りを表示しています）:"),
    "ended": ("The server has stopped: this page no longer updates. `reglab watch {run_dir}` serves it again.",
              "サーバーは停止しました。このページはもう更新されません。`reglab watch {run_dir}` で再び表示できます。"),
    "lost": ("The connection to the server was lost; retrying …", "サーバーとの接続が切れました。再接続しています …"),
    "other_lang": ("日本語", "English"),
    "no_runs": ("No runs yet.", "まだ実行がありません。"),
}

# From the report's words.
REPORT_WORDS = ("fig_loss", "fig_accuracy", "fig_train", "fig_validation", "fig_epoch", "fig_lr", "sec_findings",
                "fig_baseline_marker")


@functools.cache
def words(lang: str) -> dict[str, str]:
    # Imported here: the report package brings matplotlib (seconds), which only the page's first
    # request needs to wait for, not the server's start.
    from reglab.report.i18n import t

    index = 1 if lang == "ja" else 0
    out = {key: pair[index] for key, pair in WORDS.items()}
    out.update({key: t(lang, key) for key in REPORT_WORDS})
    return out


def _script_json(value: object) -> str:
    # Inside <script>, "</" would end the element: escape every "<" (and the two line breaks
    # JavaScript does not allow in a string).
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_page(lang: str) -> str:
    other = "en" if lang == "ja" else "ja"
    return (PAGE.replace("__LANG__", lang).replace("__OTHER__", other)
            .replace("__WORDS__", _script_json(words(lang))))


PAGE = """<!DOCTYPE html>
<html lang="__LANG__">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reglab live</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/live.css">
</head>
<body>
<header>
  <a class="lang" id="lang" href="/?lang=__OTHER__"></a>
  <h1 id="title"></h1>
  <div class="sub"><span id="state" class="badge"></span><span id="counts"></span></div>
  <div class="sub" id="where"></div>
</header>
<main>
  <div id="connection" class="notice" hidden></div>
  <div id="problems" class="notice bad" hidden><div id="problems-intro"></div><ul id="problem-list"></ul></div>
  <section id="findings" class="panel" hidden>
    <h2 id="findings-title"></h2>
    <ul class="findings" id="finding-list"></ul>
    <p id="report-line"></p>
  </section>
  <p class="sub" id="legend"></p>
  <div class="grid" id="variants"></div>
</main>
<footer id="footer"></footer>
<script type="application/json" id="words">__WORDS__</script>
<script src="/live.js"></script>
</body>
</html>
"""

# Served as /live.css and /live.js: the Content-Security-Policy allows no inline style or script.
STYLE = """@font-face { font-family: "reglab-ja"; src: url(/font/ja.ttf) format("truetype"); unicode-range: U+3000-FFFF; }
:root { --ink: #1d2430; --muted: #5b6675; --line: #d9dee5; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "reglab-ja", sans-serif;
       color: var(--ink); background: var(--bg); }
header { padding: 14px 20px 10px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 8px; }
.sub { color: var(--muted); }
.lang { float: right; color: #2458c6; }
main { padding: 14px 20px 30px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; margin-right: 6px;
         background: #e8ecf1; color: var(--ink); }
.badge.training { background: #dbe8ff; color: #123f93; }
.badge.finished { background: #dcf3e3; color: #125b2a; }
.badge.stopped_early { background: #efe3ff; color: #4c1d95; }
.badge.diverged, .badge.damaged { background: #fde2e1; color: #8d1c15; }
.badge.interrupted, .badge.stopped { background: #fff0c9; color: #7a5200; }
.notice { background: #fff; border: 1px solid var(--line); border-left: 4px solid #c98a00; padding: 8px 12px;
          margin: 0 0 12px; }
.notice.bad { border-left-color: #c0392b; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; margin-bottom: 14px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 14px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card h3 { font-size: 15px; margin: 0; display: flex; align-items: center; gap: 8px; }
.swatch { width: 12px; height: 12px; border-radius: 2px; display: inline-block; }
.desc { color: var(--muted); margin: 2px 0 6px; min-height: 1.2em; }
.runs { margin: 4px 0 6px; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 6px; }
.charts .wide { grid-column: span 2; }
canvas { width: 100%; height: 150px; display: block; }
canvas.lr { height: 90px; }
ul.findings { margin: 0; padding-left: 20px; }
ul.findings li { margin: 3px 0; }
a { color: #2458c6; }
footer { color: var(--muted); padding: 0 20px 20px; }
"""

SCRIPT = """"use strict";
// The page's language and words: data in the page, not code (the CSP runs no inline script).
const LANG = document.documentElement.lang;
const W = JSON.parse(document.getElementById("words").textContent);
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                 "#7f7f7f", "#bcbd22"];
const $ = (id) => document.getElementById(id);
function fill(template, values) {
  return template.replace(/\\{(\\w+)\\}/g, (m, k) => (k in values ? String(values[k]) : m));
}
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ------------------------------------------------------------------ drawing
function drawChart(canvas, series, opts) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  canvas.width = Math.round(width * ratio); canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const left = 46, right = 8, top = 16, bottom = 22;
  const plotW = Math.max(10, width - left - right), plotH = Math.max(10, height - top - bottom);
  let epochs = 0, lo = Infinity, hi = -Infinity;
  for (const s of series) {
    const n = lastIndex(s.mean) + 1;
    epochs = Math.max(epochs, n);
    for (const arr of [s.low, s.high, s.mean]) for (const v of arr) {
      if (v === null || !isFinite(v) || (opts.log && v <= 0)) continue;
      lo = Math.min(lo, v); hi = Math.max(hi, v);
    }
  }
  canvas.dataset.points = String(epochs);
  const total = Math.max(opts.epochs || 0, epochs, 2);
  g.font = "11px system-ui, reglab-ja, sans-serif"; g.fillStyle = "#5b6675"; g.strokeStyle = "#d9dee5"; g.lineWidth = 1;
  g.fillText(opts.title, left, 11);
  g.strokeRect(left, top, plotW, plotH);
  if (!isFinite(lo)) return;
  // A constant (a learning rate that never changes; within float rounding) has no range: the
  // axis is widened around it, half a decade each way on a log axis, and the value itself is
  // labelled, instead of two labels 5% apart that read as a change ("1.0e-3" over "9.5e-4").
  const flat = Math.abs(hi - lo) <= 1e-9 * Math.max(Math.abs(hi), Math.abs(lo));
  const level = flat ? (hi + lo) / 2 : null;
  let log = opts.log && lo > 0 && (flat || hi / lo > 10);
  if (flat) {
    if (log) { lo = level / Math.sqrt(10); hi = level * Math.sqrt(10); }
    else { const half = Math.abs(level) * 0.5 || 1; lo = level - half; hi = level + half; }
  }
  if (opts.fromZero && !log) lo = Math.min(0, lo);
  const ty = (v) => log ? Math.log10(v) : v;
  const y0 = ty(lo), y1 = ty(hi);
  const X = (i) => left + (total <= 1 ? 0 : (i / (total - 1)) * plotW);
  const Y = (v) => top + plotH - ((ty(v) - y0) / (y1 - y0)) * plotH;
  g.textAlign = "right";
  for (const v of (flat ? [level] : [lo, hi])) g.fillText(opts.format(v), left - 4, Y(v) + 4);
  canvas.dataset.yLabels = (flat ? [level] : [lo, hi]).map(opts.format).join(" ");
  g.fillText(String(total - 1), X(total - 1), top + plotH + 14);  // right-aligned: "199" is not cut at the edge
  g.textAlign = "left";
  g.fillText("0", X(0), top + plotH + 14);
  g.textAlign = "center";
  g.fillText(W.fig_epoch, left + plotW / 2, top + plotH + 14);
  g.textAlign = "left";
  const ok = (v) => v !== null && isFinite(v) && !(log && v <= 0);
  for (const s of series) {
    g.fillStyle = s.colour; g.globalAlpha = 0.16;
    g.beginPath(); let open = false;
    const upper = [];
    for (let i = 0; i < s.high.length; i++) {
      if (!ok(s.high[i]) || !ok(s.low[i])) continue;
      upper.push(i);
      if (!open) { g.moveTo(X(i), Y(s.high[i])); open = true; } else g.lineTo(X(i), Y(s.high[i]));
    }
    for (let j = upper.length - 1; j >= 0; j--) g.lineTo(X(upper[j]), Y(s.low[upper[j]]));
    if (upper.length > 1) g.fill();
    g.globalAlpha = 1; g.strokeStyle = s.colour; g.lineWidth = 1.8; g.setLineDash(s.dash ? [5, 4] : []);
    g.beginPath(); open = false;
    for (let i = 0; i < s.mean.length; i++) {
      if (!ok(s.mean[i])) { open = false; continue; }
      if (!open) { g.moveTo(X(i), Y(s.mean[i])); open = true; } else g.lineTo(X(i), Y(s.mean[i]));
    }
    g.stroke();
    const last = lastIndex(s.mean);
    if (last >= 0 && ok(s.mean[last])) { g.beginPath(); g.arc(X(last), Y(s.mean[last]), 2.5, 0, 7); g.fill(); }
  }
  g.setLineDash([]);
}
function lastIndex(values) {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return i;
  return -1;
}
const fmtLoss = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
const fmtAcc = (v) => (v * 100).toFixed(v >= 0.995 || v < 0.1 ? 0 : 1) + "%";
const fmtLr = (v) => v.toExponential(1);

// ------------------------------------------------------------------ the page
const cards = new Map();
let latest = null;

function card(variant, index) {
  let c = cards.get(variant.name);
  if (c) return c;
  const root = el("section", "card");
  root.dataset.variant = variant.name;
  const h = el("h3");
  const swatch = el("span", "swatch"); swatch.style.background = PALETTE[index % PALETTE.length];
  const name = el("span", "name", variant.name);
  const marker = el("span", "sub", variant.baseline === null ? W.fig_baseline_marker : "");
  h.append(swatch, name, marker);
  const desc = el("div", "desc"), runs = el("div", "runs"), charts = el("div", "charts");
  const loss = el("canvas", "loss"), acc = el("canvas", "accuracy"), lr = el("canvas", "lr wide");
  charts.append(loss, acc, lr);
  root.append(h, desc, runs, charts);
  $("variants").append(root);
  c = { root, desc, runs, loss, acc, lr, colour: PALETTE[index % PALETTE.length] };
  cards.set(variant.name, c);
  return c;
}

function curve(variant, key, colour, dash) {
  const band = variant.curves[key] || { mean: [], low: [], high: [] };
  return { mean: band.mean, low: band.low, high: band.high, colour, dash };
}

function drawVariant(c, v) {
  const title = (metric) => metric + " — " + W.fig_train + " / " + W.fig_validation;
  drawChart(c.loss, [curve(v, "train_loss", c.colour, true), curve(v, "val_loss", c.colour, false)],
            { title: title(W.fig_loss), epochs: v.epochs, format: fmtLoss, fromZero: true });
  drawChart(c.acc, [curve(v, "train_accuracy", c.colour, true), curve(v, "val_accuracy", c.colour, false)],
            { title: title(W.fig_accuracy), epochs: v.epochs, format: fmtAcc });
  drawChart(c.lr, [curve(v, "lr", c.colour, false)], { title: W.fig_lr, epochs: v.epochs, format: fmtLr, log: true });
}

function render(snap) {
  latest = snap;
  document.title = fill(W.title, { study: snap.study });
  $("title").textContent = fill(W.title, { study: snap.study });
  const state = $("state");
  state.className = "badge " + snap.state; state.textContent = W["study_" + snap.state] || snap.state;
  document.body.dataset.state = snap.state;
  const parts = [];
  for (const [key, n] of Object.entries(snap.counts)) if (n) parts.push(W["run_" + key] + " " + n);
  $("counts").textContent = parts.join(" · ");
  $("where").textContent = (snap.dataset ? snap.dataset + " · " : "") + snap.run_dir;

  const problems = $("problems");
  problems.hidden = snap.problems.length === 0;
  $("problems-intro").textContent = W.problems;
  $("problem-list").replaceChildren(...snap.problems.map((p) => el("li", "", p)));

  const findings = $("findings");
  const finished = snap.state === "finished";
  findings.hidden = !finished;
  $("findings-title").textContent = W.sec_findings;
  $("finding-list").replaceChildren(...(snap.findings || []).map((f) => el("li", "", LANG === "ja" ? f.ja : f.en)));
  const reportLine = $("report-line");
  if (snap.report) {
    const a = el("a", "", W.report); a.href = "/" + snap.report; a.id = "report-link";
    reportLine.replaceChildren(a);
  } else {
    reportLine.textContent = fill(W.no_report, { run_dir: snap.run_dir });
  }
  $("legend").textContent = snap.variants.length ? W.band : W.no_runs;

  snap.variants.forEach((v, i) => {
    const c = card(v, i);
    c.desc.textContent = (LANG === "ja" && v.description_ja) ? v.description_ja : v.description;
    c.runs.replaceChildren(...v.runs.map((r) => {
      const total = v.epochs ? fill(W.epochs_of, { done: r.epochs, total: v.epochs }) : fill(W.epochs_done, { done: r.epochs });
      const chip = el("span", "badge " + r.status, fill(W.seed, { seed: r.seed }) + ": " + (W["run_" + r.status] || r.status)
                      + (r.epochs ? " · " + total : ""));
      chip.dataset.status = r.status;
      return chip;
    }));
    drawVariant(c, v);
  });
}

function redraw() {
  if (latest) render(latest);
}

// A canvas does not make the browser load a font: load the Japanese one (served by the page's
// server) as soon as any text needs it, then draw again. The page marks when its fonts are in.
let fontAsked = false;
function loadFonts(snap) {
  if (fontAsked) return;
  fontAsked = true;
  const text = JSON.stringify(W) + JSON.stringify(snap);
  const cjk = text.match(/[\u3000-\uffff]/g);
  const done = () => { document.body.dataset.fonts = "ready"; redraw(); };
  if (!cjk || !document.fonts) { done(); return; }
  document.fonts.load('11px "reglab-ja"', cjk.join("")).then(done, done);
}

function connect() {
  const source = new EventSource("/events");
  source.addEventListener("state", (event) => {
    $("connection").hidden = true;
    const snap = JSON.parse(event.data);
    render(snap);
    loadFonts(snap);
  });
  source.addEventListener("end", () => {
    source.close();
    const box = $("connection");
    box.textContent = fill(W.ended, { run_dir: latest ? latest.run_dir : "" });
    box.hidden = false;
    document.body.dataset.server = "ended";
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) return;
    const box = $("connection");
    box.textContent = W.lost; box.hidden = false;
  };
}

$("lang").textContent = W.other_lang;
$("title").textContent = W.connecting;
window.addEventListener("resize", redraw);
connect();
"""
