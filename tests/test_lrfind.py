"""The learning-rate range test: on a quadratic problem whose divergence rate is known in closed form
(plain gradient descent on ½·mean((Xw - y)²) diverges above 2/L, L the Hessian's largest
eigenvalue), it stops there and its suggestions scale with the problem; it never touches the
caller's weights; it is reproducible from its seed."""

from __future__ import annotations

import math

import pytest
import torch

from reglab.lrfind import range_test, suggest


def quadratic(scale: float, n: int = 256, d: int = 8):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g) * scale
    y = x @ torch.randn(d, 1, generator=g) + 0.1 * scale * torch.randn(n, 1, generator=g)
    hessian = x.T @ x / n
    largest = float(torch.linalg.eigvalsh(hessian).max())
    model = torch.nn.Linear(d, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    return model, x, y, largest


def run(model, x, y, seed=0, steps=120):
    return range_test(model, lambda p: torch.optim.SGD(p, lr=1e-3), x, y, batch_size=x.shape[0],
                      generator=torch.Generator().manual_seed(seed),
                      loss_fn=lambda out, target: 0.5 * torch.mean((out - target) ** 2),
                      start=1e-5, end=10.0, steps=steps)


@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_stops_at_the_known_divergence_rate_and_suggests_below_it(scale):
    model, x, y, largest = quadratic(scale)
    result = run(model, x, y)
    assert result.stop == "diverged"
    limit = 2 / largest  # gradient descent on this quadratic diverges above it
    stopped = result.lrs[-1]
    # past the limit the error grows by |1 - lr·L| per step, from near the optimum: the smoothed loss
    # passes 4x its minimum within a few growth steps (a factor of about 6 on this grid)
    assert limit < stopped < 8 * limit
    for rule, lr in result.suggestions.items():
        assert lr < limit, rule
    assert limit / 10 < result.suggestions["minimum/10"] < limit


def test_suggestions_follow_the_problem_scale():
    """Features 10x larger: the Hessian 100x, so every rate found is 100x smaller (to grid accuracy)."""
    small = run(*quadratic(1.0)[:3])
    large = run(*quadratic(10.0)[:3])
    step = math.log10(small.lrs[1] / small.lrs[0])
    assert abs(math.log10(small.lrs[-1] / large.lrs[-1]) - 2) <= 3 * step
    for rule in ("steepest", "minimum/10"):
        assert abs(math.log10(small.suggestions[rule] / large.suggestions[rule]) - 2) <= 0.5, rule


def test_the_callers_weights_are_untouched_and_the_test_is_reproducible():
    model, x, y, _ = quadratic(1.0)
    torch.nn.init.normal_(model.weight, generator=torch.Generator().manual_seed(3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    first = run(model, x, y, seed=5, steps=60)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    again = run(model, x, y, seed=5, steps=60)
    assert first.losses == again.losses and first.suggestions == again.suggestions


def test_rules_on_a_hand_made_curve():
    lrs = [10 ** (-6 + i * 0.1) for i in range(50)]
    # flat, then falling fastest around 1e-3, lowest near 1e-2, rising after
    loss = [2.0 - 1.5 / (1 + math.exp(-(math.log10(lr) + 3) * 4)) + 0.5 * max(0.0, math.log10(lr) + 2) ** 2
            for lr in lrs]
    found = suggest(lrs, loss)
    assert abs(math.log10(found["steepest"]) + 3) <= 0.15
    assert abs(math.log10(found["minimum/10"] * 10) + 1.8) <= 0.35
    assert 1e-5 < found["valley"] < 1e-2


def test_valley_is_fastais_rule_on_hand_made_curves():
    """fastai/callback/schedule.py's `valley`, worked by hand. A flat start (10 equal points), a
    fall of 20 points, a rise of 10: the longest strictly decreasing subsequence ends at the
    bottom, index 29, and has 21 points (one of the flat ones, then the fall); fastai takes
    start = 29 - 21 = 8, third = 21 / 3 = 7, and suggests 8 + 7 + int(3.5) = 18, half way down the
    fall. (The rule before took the subsequence's own first point, 0, and went 2/3 of the way: 19.)"""
    from reglab.lrfind import valley_index

    fall = [2.0] * 10 + [2.0 - 0.05 * k for k in range(1, 21)] + [1.0 + 0.1 * k for k in range(1, 11)]
    assert valley_index(fall) == 18
    # A noisy flat start whose even points creep down (20 of them), then the same fall: the
    # subsequence winds through the flat part (20 + 20 = 40 points, ending at 59); fastai still
    # counts back from the end, start = 59 - 40 = 19, third = 13.33: 19 + 13 + 6 = 38.
    noisy = [2.0 + (0.01 if k % 2 else 0.0) - 0.0001 * k for k in range(40)]
    noisy += [1.9 - 0.04 * k for k in range(20)] + [1.2 + 0.1 * k for k in range(1, 11)]
    assert valley_index(noisy) == 38
    assert valley_index([1.0] * 8) == 0  # nothing falls: the first point
    assert valley_index([2.0, 1.0, 1.5]) == 0  # a fall from index 0: fastai's -1, here the first point


def test_suggestions_read_fastais_window():
    """The first tenth of the steps and the last five points are left out, as fastai's lr_find."""
    lrs = [10 ** (-7 + 8 * i / 99) for i in range(100)]
    loss = [5.0 - 0.01 * i for i in range(100)]  # lowest at the very end
    loss[3] = 0.1  # a dip in the warm-up: ignored
    found = suggest(lrs, loss, steps=100)
    assert found["minimum/10"] == pytest.approx(lrs[94] / 10)


def test_the_command_line_and_the_python_api_give_the_same_test(tmp_path, capsys, monkeypatch):
    import json

    import reglab
    from reglab.cli import main

    study = tmp_path / "study.toml"
    study.write_text('name = "lr"\n[data]\ndataset = "digits"\n[defaults]\nhidden = [32]\n'
                     '[[variants]]\nname = "plain"\n', encoding="utf-8")
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["lr-find", str(study), "--offline", "--device", "cpu", "--steps", "40",
                 "--out", str(tmp_path / "cli"), "--lang", "en"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "Learning-rate range test: plain (adam, batch 128, seed 0)"  # not wrapped at 80 columns
    assert max(len(line) for line in printed) <= 80
    written = json.loads((tmp_path / "cli" / "lr_find.json").read_text(encoding="utf-8"))
    assert (tmp_path / "cli" / "lr_find.png").stat().st_size > 0 and (tmp_path / "cli" / "lr_find-ja.png").exists()
    result = reglab.lr_find(study, offline=True, device="cpu", steps=40)  # no out: nothing written
    assert result.variant.name == "plain" and result.paths == []
    assert written["suggestions"] == pytest.approx(result.suggestions) and written["lrs"] == pytest.approx(result.lrs)
    capsys.readouterr()
    assert main(["lr-find", str(study), "--offline", "--start", "1", "--end", "0.1"]) == 2
    assert "need 0 < start < end" in capsys.readouterr().err
