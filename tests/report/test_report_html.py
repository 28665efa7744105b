"""report.html, the PNGs and findings.json: self-contained, escaped, complete, honest about damage."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from io import BytesIO

import pytest
from matplotlib import image
from synthetic_runs import STANDARD, Variant, make_run

from reglab.cli import main
from reglab.report import default_lang, write_report
from reglab.report.figures import FIGURES


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(path) -> Elements:
    parser = Elements()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_report_is_one_self_contained_file_with_pngs_and_findings_beside(rendered):
    for lang, path in rendered.reports.items():
        page = parse(path)
        names = {t for t, _ in page.tags}
        assert "script" not in names and "link" not in names and "iframe" not in names
        sources = [a.get("src", "") for t, a in page.tags if t == "img"]
        assert len(sources) >= 9 and all(s.startswith("data:image/png;base64,") for s in sources)
        for source in sources:  # each one a PNG that decodes
            assert image.imread(BytesIO(base64.b64decode(source.split(",", 1)[1])), format="png").size
        html = path.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["']?(https?:|//)""", html) and "@import" not in html
        assert f'<html lang="{lang}">' in html
        pngs = sorted(p.stem for p in path.parent.glob("*.png"))
        # every figure has data in the standard study, but the L2/decay pairs' and the first
        # convolution's filters (it has neither pairs nor a CNN)
        # first_units: an MLP study's first layer (report/explain_figures.py), drawn beside FIGURES.
        assert pngs == sorted(set(FIGURES) - {"weight_norms", "pair_distance", "conv_filters"} | {"first_units"})
        data = json.loads((path.parent / "findings.json").read_text(encoding="utf-8"))
        assert data["format"] == "reglab-findings/1" and data["language"] == lang
        assert {v["name"] for v in data["variants"]} == {"basic", "better", "sparse"}
        assert data["definitions"]["overfitting_onset"]["width"] == 3


def test_report_reads_as_the_language_asked(rendered):
    en = rendered.reports["en"].read_text(encoding="utf-8")
    ja = rendered.reports["ja"].read_text(encoding="utf-8")
    assert "Learning curves and overfitting" in en and "reliably better" in en
    for term in ("過学習", "学習曲線", "確かな改善", "ドロップアウト", "L1正則化", "学習率スケジューリング", "スパース性"):
        assert term in ja, term
    assert "@font-face" in ja  # the page carries its Japanese glyphs
    # A variant's description_ja is its description in the Japanese report only; a words-only key,
    # it is not among the settings the variant changes.
    cell = '<td class="prose">{}</td>'.format
    assert cell("ドロップアウト率 0.3 の説明") in ja and cell("dropout 0.3") not in ja
    assert cell("dropout 0.3") in en and cell("ドロップアウト率 0.3 の説明") not in en
    findings = json.loads((rendered.reports["ja"].parent / "findings.json").read_text(encoding="utf-8"))
    assert next(v for v in findings["variants"] if v["name"] == "better")["changes"] == ["dropout"]
    # The dropout convention and what the losses are, where the report explains them.
    assert "probability to <b>drop</b>" in en and "rate = 1 − p" in en and "「<b>残す</b>確率」" in ja
    assert "without the L1/L2 penalty" in en and "ペナルティ項を含まない" in ja
    # The configuration, versions and seeds at the end.
    assert en.rindex("Configuration, versions and seeds") > en.rindex("Model summary")
    assert 'name = &quot;synthetic&quot;' in en and "0, 1, 2, 3, 4" in en


def test_user_strings_are_escaped_everywhere(tmp_path):
    hostile = "<script>alert(1)</script>"
    variants = [Variant(hostile, description='<img src=x onerror="alert(2)">', overfits=True),
                Variant("$x_1$ & co", baseline=hostile, description="<b>bold</b>", accuracy_gain=0.01)]
    root = make_run(tmp_path / "run", variants, seeds=[0, 1], class_names=["<i>a</i>", "b&c", "$"],
                    study_name="<h1>study</h1>")
    path = write_report(root, lang="en")
    page = parse(path)
    names = [t for t, _ in page.tags]
    assert "script" not in names and "h1" in names
    assert not any("onerror" in attrs for _, attrs in page.tags)
    text = "".join(page.text)
    assert hostile in text and "<h1>study</h1>" in text and "$x_1$ & co" in text and "<i>a</i>" in text
    html = path.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert json.loads((path.parent / "findings.json").read_text())["variants"][0]["name"] == hostile


def test_figures_render_japanese_without_missing_glyphs(rendered):
    # matplotlib warns "Glyph ... missing from font(s)" where it would draw a box.
    assert rendered.warnings == []
    assert "Tシャツ" in rendered.reports["en"].read_text(encoding="utf-8")  # the English figures drew it too


def test_damaged_run_directory_reports_what_it_can(tmp_path, capsys):
    root = make_run(tmp_path / "run", STANDARD, seeds=[0, 1, 2])
    (root / "runs" / "00-basic" / "seed-1.json").write_text('{"variant": "basic", "seed"')  # truncated
    (root / "runs" / "01-better" / "seed-2.npz").unlink()
    (root / "runs" / "02-sparse" / "seed-0.json").unlink()
    (root / "runs" / "02-sparse" / "seed-0.ckpt").write_bytes(b"")  # interrupted while it ran
    (root / "runs" / "02-sparse" / "model.json").unlink()
    (root / "test_split.npz").unlink()
    assert main(["report", str(root), "--lang", "en"]) == 0
    err = capsys.readouterr().err
    for piece in ("runs/00-basic/seed-1.json", "runs/01-better/seed-2.npz", "runs/02-sparse/seed-0.json",
                  "runs/02-sparse/model.json", "test_split.npz"):
        assert piece in err, piece
    html = (root / "report" / "report.html").read_text(encoding="utf-8")
    assert "What is missing" in html and "runs/01-better/seed-2.npz" in html and "no error analysis" in html
    assert "interrupted while it ran" in html and "interrupted while it ran" in err
    assert not (root / "report" / "confusion_matrix.png").exists()
    assert (root / "report" / "learning_curves_loss.png").exists()
    missing = json.loads((root / "report" / "findings.json").read_text())["missing"]
    assert {m["kind"] for m in missing} == {"damaged", "arrays", "record", "model", "test_split"}


def test_a_run_without_its_study_or_data_description_still_gets_a_report(tmp_path):
    root = make_run(tmp_path / "run", STANDARD[:2], seeds=[0, 1])
    (root / "study.json").unlink()
    (root / "data.json").write_text("{not json")
    path = write_report(root, lang="ja")
    html = path.read_text(encoding="utf-8")
    assert "欠けているもの" in html and "study.json" in html and "data.json" in html
    assert "basic" in html and "better" in html  # the variants come from the records themselves


def test_not_a_run_directory_exits_2_with_a_clear_message(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "not a reglab run directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nothing")]) == 2


@pytest.mark.parametrize("environ, lang", [
    ({"LANG": "ja_JP.UTF-8"}, "ja"), ({"LANG": "en_US.UTF-8"}, "en"), ({}, "en"),
    ({"LC_ALL": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, "ja"), ({"LC_ALL": "C", "LANG": "ja_JP.UTF-8"}, "en"),
    ({"LC_MESSAGES": "ja_JP", "LANG": "C"}, "ja"),
])
def test_language_defaults_to_the_locale(environ, lang):
    assert default_lang(environ) == lang


def test_report_command_imports_no_torch_and_writes_where_asked(synthetic_run, tmp_path):
    out = tmp_path / "elsewhere"
    code = (
        "import sys\n"
        "import reglab.analysis.analyze, reglab.analysis.findings, reglab.analysis.summary, reglab.report\n"
        "from reglab.cli import main\n"
        f"assert main(['report', {str(synthetic_run)!r}, '--lang', 'ja', '--out', {str(out)!r}]) == 0\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    assert '<html lang="ja">' in (out / "report.html").read_text(encoding="utf-8")
    assert f"Report: {out / 'report.html'}" in done.stderr.replace("\n", "")
