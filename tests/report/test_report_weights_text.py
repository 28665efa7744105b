"""The Weights section's sentences are read from the near-zero shares the figure beside them
draws (issue 24: "L2 shrinks all weights without pulling any to zero" sat above a table where 29-42%
of the l2 variant's weights were below 0.001)."""

from __future__ import annotations

import re

import pytest
from synthetic_runs import Variant, make_run

from reglab.analysis.analyze import analyze
from reglab.analysis.collect import collect
from reglab.report.html import _weights
from reglab.store import RunStore


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    root = make_run(tmp_path_factory.mktemp("weights") / "run", [
        Variant("basic"),
        # L2 that left most weights near zero, as on Fashion-MNIST: the planted case.
        Variant("l2", baseline="basic", settings={"l2": {"strength": 0.001}}, sparse=True),
        Variant("l1", baseline="basic", settings={"l1": {"strength": 0.001}}),
    ], seeds=[0, 1])
    return analyze(collect(RunStore.open(root)))


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_text_says_the_shares_the_figure_draws(analysis, lang):
    text = re.sub(r"<[^>]+>", " ", str(_weights(analysis, {}, lang)))
    for v in analysis.variants:
        assert f"{v.hidden_sparsity.mean * 100:.1f}%" in text, v.name
    assert "without pulling any to zero" not in text and "ゼロへは引き寄せません" not in text


def test_an_l2_variant_with_many_near_zero_weights_is_said_to_have_more(analysis):
    shares = {v.name: v.hidden_sparsity.mean for v in analysis.variants}
    assert shares["l2"] > 0.2 > shares["basic"]  # the plant took
    text = str(_weights(analysis, {}, "en"))
    assert "l2 has more of them than its baseline basic" in text
    assert re.search(r"l1 has (about as many as|more of them than|fewer of them than) its baseline basic", text)
