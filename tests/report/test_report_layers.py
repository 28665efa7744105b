"""The weights section of a study with a CNN: each layer apart, named with its kernel's shape as
Keras writes it; an MLP-only study keeps its "hidden 1 ... output" columns and pooled histograms."""

from __future__ import annotations

import numpy as np
from synthetic_runs import Variant, make_run

from reglab.analysis import weights as W
from reglab.analysis.analyze import analyze
from reglab.analysis.collect import collect
from reglab.report import figures as F
from reglab.store import RunStore

CNN_KERNELS = ((4, 1, 3, 3), (6, 4, 3, 3), (3, 24))  # PyTorch: [out, in, kh, kw], then [out, in]


def tick_rows(figure) -> list[list[str]]:
    return [[label.get_text() for label in ax.get_xticklabels()] for ax in figure.axes if ax.get_yticklabels()
            and any(label.get_text() for label in ax.get_xticklabels())]


def test_keras_shape_is_kernel_height_width_inputs_outputs():
    assert W.keras_shape(np.zeros((32, 1, 3, 5))) == (3, 5, 1, 32)
    assert W.keras_shape(np.zeros((10, 3136))) == (3136, 10)


def test_a_cnn_study_names_and_draws_each_layer_apart(tmp_path):
    root = make_run(tmp_path / "run", [Variant("cnn", kernels=CNN_KERNELS),
                                       Variant("cnn_l1", baseline="cnn", kernels=CNN_KERNELS, sparse=True),
                                       Variant("mlp", baseline="cnn")], seeds=[0, 1])
    analysis = analyze(collect(RunStore.open(root)))
    assert analysis.per_layer
    labels = {v.name: list(F.layer_labels(v, "en").values()) for v in analysis.variants}
    assert labels["cnn"] == ["conv 1 (3×3×1×4)", "conv 2 (3×3×4×6)", "output (24×3)"]
    assert labels["mlp"] == ["dense 1 (64×8)", "dense 2 (8×4)", "output (4×3)"]
    assert list(F.layer_labels(analysis.variant("cnn"), "ja").values())[0] == "畳み込み 1（3×3×1×4）"

    # The sparsity table: one block per architecture, so no column mixes a convolution and a dense layer.
    assert tick_rows(F.sparsity(analysis, "en")) == [labels["cnn"], labels["mlp"]]

    # Histograms: one per variant and layer, each counting that layer's weights only, on bins the
    # same layer shares across variants.
    counts = analysis.layer_histograms
    assert {name: int(c.sum()) for name, c in counts["cnn"].items()} == {"conv2d_1": 36, "conv2d_2": 216, "dense_1": 72}
    conv_1 = analysis.layer_edges[("conv2d_1", (3, 3, 1, 4))]
    assert ("dense_1", (24, 3)) in analysis.layer_edges and ("dense_1", (64, 8)) in analysis.layer_edges
    assert len(conv_1) - 1 < W.HISTOGRAM_BINS  # 36 weights: fewer bins than a large layer gets
    assert len(conv_1) % 2 == 0  # an odd number of bins: one centred on zero
    titles = [ax.get_title() for ax in F.weight_histograms(analysis, "en").axes if ax.get_title()]
    assert len(titles) == 9 and titles[0].startswith("conv 1 (3×3×1×4)\n")
    sparse_share = analysis.variant("cnn_l1").sparsity["conv2d_2"].mean
    assert f"conv 2 (3×3×4×6)\n{sparse_share * 100:.1f}% near zero" in titles
    assert sparse_share > 0.5


def test_an_mlp_study_keeps_hidden_and_output_columns_and_one_histogram_per_variant(tmp_path):
    root = make_run(tmp_path / "run", [Variant("basic"), Variant("l1", baseline="basic", sparse=True)], seeds=[0])
    analysis = analyze(collect(RunStore.open(root)))
    assert not analysis.per_layer and analysis.layer_histograms == {}
    assert tick_rows(F.sparsity(analysis, "en")) == [["hidden 1", "hidden 2", "output"]]
    shares = [f"{analysis.variant(name).hidden_sparsity.mean * 100:.1f}" for name in ("basic", "l1")]
    assert [ax.get_title() for ax in F.weight_histograms(analysis, "en").axes] == [
        f"basic\n{shares[0]}% near zero", f"l1\n{shares[1]}% near zero"]
