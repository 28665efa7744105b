"""The residual MLP behind the architecture seam, and stochastic depth, the technique only it
accepts: its keys and refusals, its forward pass against the formula written with
torch.nn.functional, its parameter count and summary, the kernels penalties act on, dropout's
places, and stochastic depth against Huang et al.'s definition (rates per block, whole branches
dropped, every block on at evaluation). That both train, checkpoint and resume is
tests/techniques/test_conformance.py's, which trains every technique on an architecture that accepts it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reglab import models
from reglab.config import parse_study
from reglab.engine.seeding import generator
from reglab.errors import ConfigError

RES = """
[[variants]]
name = "res"
model = "resmlp"
width = 12
hidden = [20, 16, 8]
epochs = 3
batch_size = 32
{variant}
"""


def res_variant(extra: str = ""):
    return parse_study(RES.replace("{variant}", extra)).variants[0]


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_study(text, "s.toml")
    return str(caught.value)


def test_keys_and_refusals_name_the_fix():
    assert "must be an integer from 1 to 65536" in problems(RES.replace("width = 12", "width = 0").replace("{variant}", ""))
    for elsewhere in ('hidden = [8]', 'model = "cnn"\nconv = [{ filters = 4 }]'):
        message = problems(f'[[variants]]\nname = "a"\n{elsewhere}\nstochastic_depth = 0.2\n')
        assert "stochastic_depth" in message and "does not apply to model" in message
        assert 'model = "resmlp"' in message
    message = problems(RES.replace("{variant}", "batch_norm = true"))
    assert "does not apply to model 'resmlp'" in message and "pre-norm" in message
    # Dropout has one place per block (inside it, after the activation).
    assert "gives 2 rates for 3 places" in problems(RES.replace("{variant}", "dropout = [0.1, 0.2]"))
    assert res_variant("dropout = [0.1, 0.2, 0.3]").dropout_rates() == (0.1, 0.2, 0.3)


def test_forward_pass_is_the_pre_norm_residual_formula():
    variant = res_variant('activation = "tanh"')
    model = models.build(variant, (4, 4), 5, generator(0, "init")).eval()
    x = torch.randn(7, 16, generator=torch.Generator().manual_seed(1))
    linears = model.linears()
    norms = [block.branch[0] for block in model.blocks] + [model.head[0]]
    # Written out from the module docstring, with torch.nn.functional only.
    h = F.linear(x, linears[0].weight, linears[0].bias)
    for b in range(3):
        inner, outer, norm = linears[1 + 2 * b], linears[2 + 2 * b], norms[b]
        branch = F.layer_norm(h, (12,), norm.weight, norm.bias)
        h = h + F.linear(torch.tanh(F.linear(branch, inner.weight, inner.bias)), outer.weight, outer.bias)
    h = torch.tanh(F.layer_norm(h, (12,), norms[3].weight, norms[3].bias))
    expected = F.linear(h, linears[-1].weight, linears[-1].bias)
    torch.testing.assert_close(model(x), expected)


def test_parameter_count_summary_and_regularized_kernels():
    variant = res_variant("dropout = 0.1\nstochastic_depth = 0.3")
    model = models.build(variant, (4, 4), 5, generator(0, "init"))
    inputs, width, inner, classes = 16, 12, (20, 16, 8), 5
    by_hand = (inputs * width + width  # stem
               + sum(2 * width + width * h + h + h * width + width for h in inner)  # norm, inner, outer
               + 2 * width + width * classes + classes)  # head norm, output
    assert sum(p.numel() for p in model.parameters()) == by_hand
    rows = model.summary()
    assert sum(r.params for r in rows) == by_hand
    kinds = [r.layer.split(" ")[0] for r in rows]
    assert kinds[:8] == ["dense_1", "layer_normalization_1", "dense_2", "relu_1", "dropout_1", "dense_3",
                         "stochastic_depth_1", "add_1"]
    assert [r.output_shape for r in rows[2:6]] == ["(None, 20)"] * 3 + ["(None, 12)"]
    # Penalties act on the stem's and every block's kernels: not the output layer, biases or norms.
    kernels = model.regularized_kernels()
    assert [tuple(k.shape) for k in kernels] == [(12, 16), (20, 12), (12, 20), (16, 12), (12, 16), (8, 12), (12, 8)]
    # Same seed and architecture: same initial weights (the init key), whatever the techniques.
    again = models.build(res_variant(), (4, 4), 5, generator(0, "init"))
    assert all(torch.equal(a, b) for a, b in zip(kernels, again.regularized_kernels()))


def branch_outputs(block, x):
    """(what the block adds to x, its branch without stochastic depth)."""
    branch = x
    for layer in block.branch[:-1]:
        branch = layer(branch)
    return block(x) - x, branch


@pytest.mark.parametrize("decay, expected", [("linear", (0.1, 0.2, 0.3)), ("uniform", (0.3, 0.3, 0.3))])
def test_stochastic_depth_drops_branches_at_the_papers_rates(decay, expected):
    # mode = "row": one draw per example, so one batch of 4000 measures each block's rate.
    variant = res_variant(f'stochastic_depth = {{ rate = 0.3, decay = "{decay}", mode = "row" }}')
    model = models.build(variant, (4, 4), 5, generator(0, "init"))
    assert tuple(block.branch[-1].rate for block in model.blocks) == pytest.approx(expected)
    model.set_dropout_generator(torch.Generator().manual_seed(2))
    model.train()
    x = torch.randn(4000, 12, generator=torch.Generator().manual_seed(3))
    for block, rate in zip(model.blocks, expected):
        added, branch = branch_outputs(block, x)
        dropped = ~added.any(dim=1)
        # Kept examples get their whole branch, scaled by 1/(1 - rate); dropped ones none of it.
        torch.testing.assert_close(added[~dropped], branch[~dropped] / (1 - rate))
        # Binomial: 4.5 standard deviations (a fixed seed: the count is the same every time).
        share = dropped.float().mean().item()
        assert abs(share - rate) < 4.5 * (rate * (1 - rate) / len(x)) ** 0.5, (rate, share)
    # At evaluation every block is on, unscaled: the same network as without the technique.
    without = models.build(res_variant(), (4, 4), 5, generator(0, "init")).eval()
    torch.testing.assert_close(model.eval()(torch.ones(2, 16)), without(torch.ones(2, 16)))


def test_stochastic_depth_batch_mode_skips_a_block_for_the_whole_batch():
    model = models.build(res_variant("stochastic_depth = { rate = 0.5, decay = \"uniform\" }"),
                         (4, 4), 5, generator(0, "init"))
    model.set_dropout_generator(torch.Generator().manual_seed(0))
    block = model.blocks[0].train()
    x = torch.randn(64, 12, generator=torch.Generator().manual_seed(1))
    skipped = 0
    for _ in range(40):
        added, branch = branch_outputs(block, x)
        if not added.any():
            skipped += 1
        else:
            torch.testing.assert_close(added, branch / 0.5)
    assert 5 < skipped < 35  # 40 draws at 0.5: outside this, p < 1e-6
