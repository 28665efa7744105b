"""An English report is in English only, and a Japanese one names Fashion-MNIST's classes in
Japanese (issue 24: the English report quoted the tutorial's Japanese; the Japanese confusion
matrix kept "T-shirt/top")."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from synthetic_runs import STANDARD, make_run

from reglab.analysis.analyze import analyze
from reglab.analysis.collect import collect
from reglab.analysis.findings import findings
from reglab.report import html
from reglab.report.figures import shown_class_names
from reglab.report.i18n import CLASS_NAMES_JA, STRINGS, class_names
from reglab.store import RunStore
from reglab.techniques import registry

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")
FASHION = list(CLASS_NAMES_JA["fashion-mnist"][0])


def test_no_english_template_holds_japanese():
    words = registry.described().values()
    english = {**{k: en for k, (en, _) in STRINGS.items()},
               **{f"{w.name[0]}: {part}": text[0] for w in words
                  for part, text in (("name", w.name), ("short", w.short), ("note", w.note), ("axis", w.axis)) if text}}
    quoted = [key for key, en in english.items() if CJK.search(en)]
    assert quoted == []


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    # Without the variants' own Japanese descriptions: the study's words are the user's, shown as written.
    variants = [replace(v, description_ja="") for v in STANDARD]
    root = make_run(tmp_path_factory.mktemp("langs") / "run", variants, seeds=[0, 1, 2], class_names=FASHION[:3])
    result = analyze(collect(RunStore.open(root)))
    result.collected.data["dataset"] = "fashion-mnist"
    result.class_names = FASHION  # the dataset's ten names, as data.json stores them
    return result


def test_the_english_reports_text_has_no_japanese(analysis):
    page = html.render(analysis, findings(analysis), {}, "en")
    text = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", page, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    assert CJK.findall(text) == []
    assert "elbow" in text  # the tutorial's point is said in English


def test_fashion_mnist_classes_are_japanese_in_a_japanese_report(analysis):
    assert shown_class_names(analysis, "ja")[:2] == ["Tシャツ/トップ", "ズボン"]
    assert shown_class_names(analysis, "en") == FASHION
    assert "Tシャツ/トップ" in str(html._errors(analysis, {}, "ja"))


def test_japanese_names_only_for_the_datasets_own_labels():
    from reglab.data.sources import FASHION_MNIST

    assert tuple(FASHION) == FASHION_MNIST.class_names  # the twin of the data source's names stays equal
    assert class_names(["cat", "dog"], "fashion-mnist", "ja") == ["cat", "dog"]  # a user's own labels
    assert class_names(FASHION, "mnist", "ja") == FASHION
