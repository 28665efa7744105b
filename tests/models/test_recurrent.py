"""The recurrent architectures (`lstm`, `gru`: an image read row by row) and the recurrence
techniques: the forward pass against torch.nn.LSTM / torch.nn.GRU with the same weights (an
independent implementation; PyTorch's GRU orders its gates r, z, n where Keras's is z, r, h),
parameter counts against Keras's formulas, Keras's initialization, the refusals, and the masks
of variational and naive recurrent dropout, read directly and as the layer uses them."""

from __future__ import annotations

import pytest
import torch

from reglab import models
from reglab.config import parse_study
from reglab.engine.fast import stack_key
from reglab.engine.seeding import generator
from reglab.errors import ConfigError, ReglabError
from reglab.models.portable import portable
from reglab.techniques.dropout import RecurrentDropout

STUDY = """
[[variants]]
name = "rnn"
model = "{model}"
hidden = {hidden}
activation = "tanh"
epochs = 2
batch_size = 16
{extra}
"""


def variant(model: str = "lstm", hidden: str = "[6]", extra: str = ""):
    return parse_study(STUDY.format(model=model, hidden=hidden, extra=extra)).variants[0]


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_study(text, "s.toml")
    return str(caught.value)


def keras_count(model: str, inputs: int, units: int) -> int:
    """Keras 3's trainable weights of one LSTM or GRU (reset_after=True) direction."""
    if model == "lstm":
        return 4 * (units * (units + inputs) + units)
    return 3 * (units * (units + inputs) + 2 * units)


@pytest.mark.parametrize("model", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_forward_matches_torch_nn_with_the_same_weights(model, bidirectional):
    spec = variant(model, "[5, 3]", f"bidirectional = {str(bidirectional).lower()}")
    net = models.build(spec, (4, 6), 7, generator(0, "init")).eval()
    directions = 2 if bidirectional else 1
    reference = getattr(torch.nn, model.upper())(6, 5, batch_first=True, bidirectional=bidirectional)
    second = getattr(torch.nn, model.upper())(5 * directions, 3, batch_first=True, bidirectional=bidirectional)

    def reorder(w: torch.Tensor) -> torch.Tensor:  # Keras's GRU gates z, r, h; PyTorch's r, z, n
        if model == "lstm":
            return w
        z, r, h = w.chunk(3, dim=0)
        return torch.cat([r, z, h])

    with torch.no_grad():
        for torch_layer, ours in ((reference, net.layers[0]), (second, net.layers[1])):
            for d, layer in enumerate(ours):
                suffix = "_reverse" if d else ""
                getattr(torch_layer, f"weight_ih_l0{suffix}").copy_(reorder(layer.weight_ih))
                getattr(torch_layer, f"weight_hh_l0{suffix}").copy_(reorder(layer.weight_hh))
                getattr(torch_layer, f"bias_ih_l0{suffix}").copy_(reorder(layer.bias))
                recurrent_bias = layer.bias_hh if layer.bias_hh is not None else torch.zeros_like(layer.bias)
                getattr(torch_layer, f"bias_hh_l0{suffix}").copy_(reorder(recurrent_bias))
    x = torch.randn(9, 24, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out, _ = second(reference(x.view(9, 4, 6))[0])
        final = torch.cat([out[:, -1, :3], out[:, 0, 3:]], dim=1) if bidirectional else out[:, -1]
        torch.testing.assert_close(net(x), net.head(final), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", ["lstm", "gru"])
def test_parameter_counts_are_keras_and_the_memory_models(model):
    spec = variant(model, "[8, 4]", "bidirectional = true")
    net = models.build(spec, (8, 8), 10, generator(0, "init"))
    expected = 2 * keras_count(model, 8, 8) + 2 * keras_count(model, 16, 4) + (8 + 1) * 10
    assert sum(p.numel() for p in net.parameters()) == expected
    assert spec.architecture.parameters(spec, (8, 8), 10) == expected
    rows = net.summary()
    assert [r.layer for r in rows] == ["reshape_1 (Reshape)", "bidirectional_1 (Bidirectional)",
                                       "bidirectional_2 (Bidirectional)", "dense_1 (Dense)"]
    assert [r.output_shape for r in rows] == ["(None, 8, 8)", "(None, 8, 16)", "(None, 8)", "(None, 10)"]
    assert sum(r.params for r in rows) == expected
    single = variant(model, "[64]")
    assert [r.params for r in models.build(single, (28, 28), 10, generator(0, "init")).summary()] == \
        [0, keras_count(model, 28, 64), 650]  # Keras: LSTM(64) on 28x28 rows has 23,808; GRU 18,048


def test_keras_initialization():
    net = models.build(variant("lstm", "[16]"), (8, 8), 10, generator(0, "init"))
    layer = net.layers[0][0]
    # unit_forget_bias: the forget gate's (Keras's second) bias is 1, the rest 0.
    assert torch.equal(layer.bias, torch.cat([torch.zeros(16), torch.ones(16), torch.zeros(32)]))
    # Orthogonal recurrent kernel: Keras's (16, 64) has orthonormal rows, ours is its transpose.
    torch.testing.assert_close(layer.weight_hh.T @ layer.weight_hh, torch.eye(16), atol=1e-5, rtol=0)
    limit = (6 / (8 + 64)) ** 0.5  # Glorot uniform over Keras's (inputs, 4*units) kernel
    assert layer.weight_ih.abs().max() <= limit and layer.weight_ih.abs().max() > 0.9 * limit
    gru = models.build(variant("gru", "[16]"), (8, 8), 10, generator(0, "init")).layers[0][0]
    assert not gru.bias.any() and not gru.bias_hh.any()
    torch_init = models.build(variant("lstm", "[16]", 'init = "torch_default"'), (8, 8), 10, generator(0, "init"))
    bias = torch_init.layers[0][0].bias
    assert bias.abs().max() <= 0.25 and bias.std() > 0.1  # uniform in +-1/sqrt(16)


def test_refusals_and_the_fast_engine_declines():
    message = problems('[[variants]]\nname = "a"\nhidden = [8]\nrecurrent_dropout = 0.2\n')
    assert "does not apply to model 'mlp'" in message and 'model = "lstm"' in message
    message = problems(STUDY.format(model="gru", hidden="[4]", extra="recurrent_dropout = 0.2\n"
                                                                      "naive_recurrent_dropout = 0.2"))
    assert "choose one" in message
    assert "must be true" in problems(STUDY.format(model="lstm", hidden="[4]", extra='bidirectional = "yes"'))
    assert "does not apply to model 'lstm'" in problems(STUDY.format(model="lstm", hidden="[4]", extra="batch_norm = true"))
    assert stack_key(variant("lstm")) is None  # no stacked form: the reference loop trains it
    with pytest.raises(ReglabError, match="no plain PyTorch form"):
        portable(models.build(variant("gru"), (8, 8), 10, None), 64)


def test_variational_mask_is_one_per_sequence_and_naive_one_per_step():
    state = torch.zeros(32, 50)
    variational = RecurrentDropout(0.5, per_sequence=True).train()
    variational.generator = torch.Generator().manual_seed(0)
    masks = variational.masks(6, state)
    assert masks.shape == (1, 32, 50)  # one mask, broadcast to every step
    assert set(masks.unique().tolist()) == {0.0, 2.0}
    assert not torch.equal(masks[0, 0], masks[0, 1])  # different across sequences
    naive = RecurrentDropout(0.5, per_sequence=False).train()
    naive.generator = torch.Generator().manual_seed(0)
    steps = naive.masks(6, state)
    assert steps.shape == (6, 32, 50) and not torch.equal(steps[0], steps[1])  # fresh at each step
    assert variational.eval().masks(6, state) is None and naive.eval().masks(6, state) is None


@pytest.mark.parametrize("technique", ["recurrent_dropout", "naive_recurrent_dropout"])
def test_the_layer_drops_its_state_with_those_masks(technique):
    """The LSTM unrolled by hand, h(t-1) times the masks drawn from a copy of the generator."""
    net = models.build(variant("lstm", "[5]", f"{technique} = 0.4"), (4, 3), 2, generator(0, "init"))
    layer = net.layers[0][0].train()
    layer.recurrent_dropout.generator = torch.Generator().manual_seed(3)
    x = torch.randn(8, 4, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        got = layer(x)
        layer.recurrent_dropout.generator = torch.Generator().manual_seed(3)
        masks = layer.recurrent_dropout.masks(4, torch.zeros(8, 5))
        h = c = torch.zeros(8, 5)
        for t in range(4):
            m = masks[0 if technique == "recurrent_dropout" else t]
            i, f, g, o = (x[:, t] @ layer.weight_ih.T + layer.bias + (h * m) @ layer.weight_hh.T).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            torch.testing.assert_close(got[:, t], h)
        evaluated = layer.eval()(x)
        layer.recurrent_dropout = None
        torch.testing.assert_close(evaluated, layer(x))  # evaluation drops nothing
        assert not torch.allclose(evaluated, got)


def test_the_reports_weight_analysis_names_the_recurrent_kernels():
    from reglab.analysis import weights as W

    net = models.build(variant("lstm", "[16]"), (8, 8), 10, generator(0, "init"))
    named = W.kernels({k: v.numpy() for k, v in net.state_dict().items()})
    # Keras's kernel (inputs, 4*units), recurrent_kernel (units, 4*units), then the dense output.
    assert {name: W.keras_shape(k) for name, k in named.items()} == \
        {"rnn_input_1": (8, 64), "rnn_state_1": (16, 64), "dense_1": (16, 10)}
