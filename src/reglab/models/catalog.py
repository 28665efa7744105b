"""The architectures, declared without torch: their study keys and checks, dropout places, whether
a network fits the images, cost, init key and stack key. The networks themselves (torch) are in
models/mlp.py, models/cnn.py and models/residual_mlp.py, named by import path, and loaded when
something trains.

The study loader reads this module, so `reglab studies`, sweeps and validation stay torch-free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reglab.models.registry import Architecture, ModelKey, register

if TYPE_CHECKING:
    from reglab.config import VariantSpec

# Stochastic depth skips residual blocks, and only resmlp has them.
NO_RESIDUAL_BLOCKS = ("stochastic depth skips residual blocks at random, and this network has none. "
                      "Use model = \"resmlp\" (residual blocks; `width` and one `hidden` entry per block), "
                      "or dropout")

# CutMix pastes a rectangle of one image into another: for networks that see images as images.
NOT_IMAGES = ("CutMix pastes a rectangle of another image, which only a network that sees the image as an "
              "image (model = \"cnn\") is meant for. Use mixup, or model = \"cnn\"")

# The recurrence techniques act on a recurrent state, and only lstm and gru have one.
RECURRENT_ONLY = {name: f"{name.replace('_', ' ')} drops units of a recurrent network's state, and this network has "
                        "none. Use model = \"lstm\" or \"gru\", or dropout"
                  for name in ("recurrent_dropout", "naive_recurrent_dropout")}

# ------------------------------------------------------------------------------------------ mlp


def _mlp_cost(variant: VariantSpec, image_shape: tuple[int, int], classes: int) -> float:
    """Per example and epoch: multiply-adds of the forward and backward passes plus dropout draws,
    a random number costing about 250 multiply-adds (measured on the CPU: the tutorial's dropout
    models take 15% longer than its basic one)."""
    widths = (image_shape[0] * image_shape[1], *variant.hidden, classes)
    multiply_adds = 3 * sum(a * b for a, b in zip(widths, widths[1:]))
    draws = sum(width for width, rate in zip(variant.hidden, variant.dropout_rates()) if rate > 0)
    return variant.epochs * (multiply_adds + 250 * draws)


def _dense(widths: tuple[int, ...], normed: bool) -> int:
    """Weights and biases of dense layers between `widths`, and a norm's scale and shift on each
    hidden width when `normed` (batch or layer norm: not on the output)."""
    return sum(a * b + b for a, b in zip(widths, widths[1:])) + (2 * sum(widths[1:-1]) if normed else 0)


def _normed(variant: VariantSpec) -> bool:
    return any(variant.switch(name) is not None for name in ("batch_norm", "layer_norm"))


def _mlp_parameters(variant: VariantSpec, image_shape: tuple[int, int], classes: int) -> int:
    return _dense((image_shape[0] * image_shape[1], *variant.hidden, classes), _normed(variant))


def _mlp_activations(variant: VariantSpec, image_shape: tuple[int, int], classes: int) -> int:
    return image_shape[0] * image_shape[1] + sum(variant.hidden) + classes


def _mlp_stack_key(variant: VariantSpec) -> tuple:
    norm = next((c for c in variant.switches if c.name in ("batch_norm", "layer_norm")), None)
    # F.batch_norm takes one momentum and epsilon for the whole stack: they are part of the key.
    return (variant.hidden, variant.activation, norm)


register(Architecture(
    name="mlp",
    summary_en="Multilayer perceptron: flattened pixels, dense hidden layers (`hidden`), dense output",
    summary_ja="多層パーセプトロン: 画素を平らに並べ、全結合の隠れ層（hidden）と出力層",
    keys=(),
    refuses={"spatial_dropout": "spatial dropout drops whole feature maps of a convolution, and an MLP has none. "
                                "Use dropout, or model = \"cnn\"",
             "stochastic_depth": NO_RESIDUAL_BLOCKS, "cutmix": NOT_IMAGES} | RECURRENT_ONLY,
    min_hidden=1,
    dropout_slots=lambda variant: len(variant.hidden),
    builder="reglab.models.mlp:build",
    fits=lambda variant, image_shape: None,
    cost=_mlp_cost,
    parameters=_mlp_parameters,
    activations=_mlp_activations,
    init_key=lambda variant: (variant.hidden, variant.init.name),
    stack_key=_mlp_stack_key,
    stacker="reglab.engine.stacked_mlp:StackedMLP",
    example={"hidden": [8]},
))

# ------------------------------------------------------------------------------------------ cnn

BLOCK_KEYS = {"filters": 32, "kernel_size": 3, "padding": "valid", "pool": 2}


def blocks(variant: VariantSpec) -> list[dict[str, Any]]:
    return [dict(block) for block in variant.model_param("conv")]


def per_block(rate: Any, count: int) -> tuple[float, ...]:
    return tuple(rate) if isinstance(rate, tuple) else (rate,) * count


def feature_sizes(variant: VariantSpec, image_shape: tuple[int, int]) -> list[tuple[int, int]]:
    """The feature maps' height and width after each block (after its pooling). Pooling floors, as
    Keras's MaxPooling2D with padding "valid" and PyTorch's MaxPool2d."""
    h, w = image_shape
    sizes = []
    for block in blocks(variant):
        if block["padding"] == "valid":
            h, w = h - block["kernel_size"] + 1, w - block["kernel_size"] + 1
        h, w = h // block["pool"], w // block["pool"]
        sizes.append((h, w))
    return sizes


def check_conv(value: Any) -> tuple[Any, str | None]:
    """`conv`: a non-empty list of blocks, each a table of filters, kernel_size, padding, pool."""
    example = 'conv = [{ filters = 32, kernel_size = 3, padding = "same", pool = 2 }, { filters = 64 }]'
    if not isinstance(value, list) or not value or not all(isinstance(b, dict) for b in value):
        return None, f"must be a non-empty list of conv blocks, like {example}; got {value!r}"
    normalised = []
    for index, block in enumerate(value):
        where = f"block {index + 1}"
        unknown = sorted(set(block) - set(BLOCK_KEYS))
        if unknown:
            return None, f"{where}: unknown key {unknown[0]!r}. A block's keys: {', '.join(BLOCK_KEYS)}"
        full = {**BLOCK_KEYS, **block}
        for key, (low, high) in {"filters": (1, 4096), "kernel_size": (1, 31), "pool": (1, 16)}.items():
            number = full[key]
            if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
                return None, f"{where}: {key} must be an integer from {low} to {high}, got {number!r}"
        if full["padding"] not in ("valid", "same"):
            return None, (f"{where}: padding must be \"valid\" (no padding: the image shrinks by kernel_size - 1) "
                          f"or \"same\" (the output keeps the input's size), got {full['padding']!r}")
        normalised.append(tuple(sorted(full.items())))
    return tuple(normalised), None


def _cnn_check(variant: VariantSpec) -> list[str]:
    spatial = variant.switch("spatial_dropout")
    count = len(variant.model_param("conv"))
    if spatial and isinstance(spatial["rate"], tuple) and len(spatial["rate"]) != count:
        return [f"spatial_dropout gives {len(spatial['rate'])} rates for {count} conv blocks: give one rate, "
                "or one per conv block"]
    return []


def _cnn_fits(variant: VariantSpec, image_shape: tuple[int, int]) -> str | None:
    h, w = image_shape
    for index, (block, (after_h, after_w)) in enumerate(zip(blocks(variant), feature_sizes(variant, image_shape))):
        if after_h < 1 or after_w < 1:
            return (f"conv block {index + 1} (kernel_size {block['kernel_size']}, padding {block['padding']!r}, "
                    f"pool {block['pool']}) leaves no pixels of the {h}x{w} images. Fix: padding = \"same\", a smaller "
                    "kernel_size or pool, or fewer blocks")
    return None


def _cnn_cost(variant: VariantSpec, image_shape: tuple[int, int], classes: int) -> float:
    """Per example and epoch: multiply-adds of the forward and backward passes, plus dropout draws
    at 250 multiply-adds each (as the MLP's estimate)."""
    h, w = image_shape
    channels, multiply_adds = 1, 0
    for block, (after_h, after_w) in zip(blocks(variant), feature_sizes(variant, image_shape)):
        conv_h = h if block["padding"] == "same" else h - block["kernel_size"] + 1
        conv_w = w if block["padding"] == "same" else w - block["kernel_size"] + 1
        multiply_adds += conv_h * conv_w * block["kernel_size"] ** 2 * channels * block["filters"]
        channels, (h, w) = block["filters"], (after_h, after_w)
    widths = (channels * h * w, *variant.hidden, classes)
    multiply_adds += sum(a * b for a, b in zip(widths, widths[1:]))
    draws = sum(width for width, rate in zip(widths, variant.dropout_rates()) if rate > 0)
    return variant.epochs * (3 * multiply_adds + 250 * draws)


def _cnn_parameters(variant: VariantSpec, image_shape: tuple[int, int], classes: int) -> int:
    normed = variant.switch("batch_norm") is not None
    channels, count = 1, 0
    for block in blocks(variant):
        count += block["kernel_size"] ** 2 * channels * block["filters"] + block["filters"]
        count += 2 * block["filters"] if normed else 0
        channels = block["filters"]
    h, w = feature_sizes(variant, image_shape)[-1]
    return count + _dense((channels * h * w, *variant.hidden, classes), normed)


def _cnn_activations(variant: VariantSpec, image_shape: tuple[int, int], classes: int) -> int:
    h, w = image_shape
    count = h * w
    for block, (after_h, after_w) in zip(blocks(variant), feature_sizes(variant, image_shape)):
        conv_h = h if block["padding"] == "same" else h - block["kernel_size"] + 1
        conv_w = w if block["padding"] == "same" else w - block["kernel_size"] + 1
        count += block["filters"] * (conv_h * conv_w + after_h * after_w)  # the convolution's, the pooling's
        h, w = after_h, after_w
    return count + sum(variant.hidden) + classes


def _cnn_stack_key(variant: VariantSpec) -> tuple:
    # One architecture: the same blocks, head, activation and normalization (BatchNorm2d takes one
    # momentum and epsilon for the stack), and dropout layers in the same places (stacked_cnn walks
    # one run's layers for all); the rates may differ from run to run.
    spatial = variant.switch("spatial_dropout")
    spatial_places = tuple(rate > 0 for rate in per_block(spatial["rate"] if spatial else 0.0,
                                                          len(variant.model_param("conv"))))
    dropout_places = tuple(rate > 0 for rate in variant.dropout_rates())
    return (variant.model_params, variant.hidden, variant.activation, variant.switch("batch_norm"),
            spatial_places, dropout_places)


register(Architecture(
    name="cnn",
    summary_en="Convolutional network: conv blocks (`conv`: filters, kernel_size, padding, pool), "
               "flatten, dense hidden layers (`hidden`, may be empty), dense output",
    summary_ja="畳み込みニューラルネットワーク: 畳み込みブロック（conv: フィルタ数・カーネルサイズ・パディング・"
               "プーリング）、平坦化、全結合の隠れ層（hidden、空でも可）、出力層",
    keys=(ModelKey("conv", "the conv blocks, like conv = [{ filters = 32, kernel_size = 3, padding = \"same\", "
                           "pool = 2 }, { filters = 64 }] (defaults: kernel_size 3, padding \"valid\", pool 2)",
                   check_conv, lambda value: [dict(b) for b in value]),),
    refuses={"layer_norm": "a CNN here normalizes with batch_norm (BatchNorm2d on the conv blocks); "
                           "layer normalization over feature maps is not offered. Use batch_norm",
             "stochastic_depth": NO_RESIDUAL_BLOCKS} | RECURRENT_ONLY,
    min_hidden=0,
    dropout_slots=lambda variant: 1 + len(variant.hidden),  # after the flattened features, after each hidden
    builder="reglab.models.cnn:build_cnn",
    fits=_cnn_fits,
    cost=_cnn_cost,
    parameters=_cnn_parameters,
    activations=_cnn_activations,
    init_key=lambda variant: (variant.model_params, variant.hidden, variant.init.name),
    stack_key=_cnn_stack_key,
    stacker="reglab.engine.stacked_cnn:StackedCNN",
    needs_images=True,
    check=_cnn_check,
    example={"conv": [{"filters": 4, "kernel_size": 3, "padding": "same", "pool": 2}], "hidden": [8]},
))

# ------------------------------------------------------------------------------------------ resmlp


def check_width(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65536:
        return None, f"must be an integer from 1 to 65536 (the residual stream's width), got {value!r}"
    return value, None


def _resmlp_cost(variant: VariantSpec, image_shape: tuple[int, int], classes: int) -> float:
    """Per example and epoch, as the MLP's: the stem, each block's two dense layers, the output."""
    width = variant.model_param("width")
    multiply_adds = image_shape[0] * image_shape[1] * width + width * classes
    multiply_adds += sum(2 * width * inner for inner in variant.hidden)
    draws = sum(inner for inner, rate in zip(variant.hidden, variant.dropout_rates()) if rate > 0)
    return variant.epochs * (3 * multiply_adds + 250 * draws)


def _resmlp_parameters(variant: VariantSpec, image_shape: tuple[int, int], classes: int) -> int:
    width = variant.model_param("width")
    stem = image_shape[0] * image_shape[1] * width + width
    blocks_ = sum(2 * width + (width * inner + inner) + (inner * width + width) for inner in variant.hidden)
    return stem + blocks_ + 2 * width + width * classes + classes  # the last LayerNorm, the output


def _resmlp_activations(variant: VariantSpec, image_shape: tuple[int, int], classes: int) -> int:
    width = variant.model_param("width")
    return image_shape[0] * image_shape[1] + width + sum(2 * width + inner for inner in variant.hidden) + classes


register(Architecture(
    name="resmlp",
    summary_en="Residual MLP: a dense stem to `width`, one pre-norm residual block per `hidden` entry "
               "(x + Dense(act(Dense(LayerNorm(x))))), then LayerNorm, activation and the dense output",
    summary_ja="残差 MLP: 全結合で width 次元に写し、hidden の各要素ごとに前置正規化の残差ブロック"
               "（x + Dense(act(Dense(LayerNorm(x))))）、最後に LayerNorm・活性化・出力層",
    keys=(ModelKey("width", "the residual stream's width, like width = 128 (default 128)", check_width,
                   lambda value: value, default=128),),
    refuses={name: "the residual MLP normalizes each block's input with its own LayerNorm (pre-norm); "
                   "batch_norm and layer_norm switches do not apply to it. Remove the switch, or use model = \"mlp\""
             for name in ("batch_norm", "layer_norm")}
    | {"spatial_dropout": "spatial dropout drops feature maps of a convolution, and the residual MLP has none. "
                          "Use dropout or stochastic_depth", "cutmix": NOT_IMAGES} | RECURRENT_ONLY,
    min_hidden=1,
    dropout_slots=lambda variant: len(variant.hidden),  # inside each block, after its activation
    builder="reglab.models.residual_mlp:build",
    fits=lambda variant, image_shape: None,
    cost=_resmlp_cost,
    parameters=_resmlp_parameters,
    activations=_resmlp_activations,
    init_key=lambda variant: (variant.model_params, variant.hidden, variant.init.name),
    stack_key=lambda variant: None,
    stacker=None,  # no stacked form: the fast engine leaves these variants to the reference loop
    example={"width": 8, "hidden": [8, 8]},
))

# ------------------------------------------------------------------------------------------ lstm, gru
# An image read row by row (models/recurrent.py): `hidden` lists the recurrent layers' units.

GATES = {"lstm": 4, "gru": 3}


def check_bidirectional(value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, bool):
        return None, f"must be true (each layer reads the rows both ways, Keras's Bidirectional) or false, got {value!r}"
    return value, None


def _recurrent_layers(variant: VariantSpec, image_shape: tuple[int, int]) -> list[tuple[int, int, int]]:
    """(inputs, units, directions) of each recurrent layer."""
    directions = 2 if variant.model_param("bidirectional") else 1
    layers, inputs = [], image_shape[1]
    for units in variant.hidden:
        layers.append((inputs, units, directions))
        inputs = units * directions
    return layers


def _recurrent_parameters(variant: VariantSpec, image_shape: tuple[int, int], classes: int) -> int:
    """Keras's counts: LSTM 4*(u*(u + inputs) + u) per direction (one bias per gate); GRU with
    reset_after 3*(u*(u + inputs) + 2*u) (an input and a recurrent bias); then the dense head."""
    biases = 1 if variant.model == "lstm" else 2
    gates = GATES[variant.model]
    count = sum(d * gates * (u * (u + i) + biases * u) for i, u, d in _recurrent_layers(variant, image_shape))
    features = variant.hidden[-1] * (2 if variant.model_param("bidirectional") else 1)
    return count + features * classes + classes


def _recurrent_activations(variant: VariantSpec, image_shape: tuple[int, int], classes: int) -> int:
    """What the backward pass keeps per example: per step and direction the gate pre-activations,
    the state (and an LSTM's cell) and the activation of the candidate, plus the input and the logits."""
    steps = image_shape[0]
    per_unit = GATES[variant.model] + (3 if variant.model == "lstm" else 2)
    return image_shape[0] * image_shape[1] + sum(steps * d * u * per_unit for _, u, d in
                                                 _recurrent_layers(variant, image_shape)) + classes


def _recurrent_cost(variant: VariantSpec, image_shape: tuple[int, int], classes: int) -> float:
    """Per example and epoch: forward and backward multiply-adds of every step's input and recurrent
    products, the head, and dropout draws at 250 multiply-adds each (as the MLP's estimate)."""
    steps, gates = image_shape[0], GATES[variant.model]
    layers = _recurrent_layers(variant, image_shape)
    multiply_adds = sum(steps * d * gates * u * (i + u) for i, u, d in layers)
    multiply_adds += layers[-1][1] * layers[-1][2] * classes
    recurrent = variant.switch("recurrent_dropout") or variant.switch("naive_recurrent_dropout")
    draws = sum(steps * d * u for (_, u, d), rate in zip(layers, variant.dropout_rates()) if rate > 0)
    if recurrent is not None:
        per_sequence = recurrent.name == "recurrent_dropout"
        draws += sum((1 if per_sequence else steps) * d * u for _, u, d in layers)
    return variant.epochs * (3 * multiply_adds + 250 * draws)


def _recurrent_check(variant: VariantSpec) -> list[str]:
    if variant.switch("recurrent_dropout") and variant.switch("naive_recurrent_dropout"):
        return ["recurrent_dropout and naive_recurrent_dropout both drop the recurrent state: choose one"]
    return []


for _kind, _en, _ja in (
        ("lstm", "LSTM", "LSTM（長・短期記憶）"),
        ("gru", "GRU", "GRU（ゲート付き回帰ユニット）")):
    register(Architecture(
        name=_kind,
        summary_en=f"{_en} reading the image row by row (H steps of W pixels): one recurrent layer per `hidden` "
                   "entry (its units; `bidirectional` reads both ways), Keras's cell and initialization, and a "
                   "dense output on the last step. `activation` is the cell's (tanh in Keras)",
        summary_ja=f"画像を 1 行ずつ読む {_ja}（H 時刻 × W 画素）: hidden の各要素が 1 層の再帰層のユニット数"
                   "（bidirectional で双方向）、Keras と同じセルと初期化、最後の時刻の出力に全結合の出力層。"
                   "activation はセルの活性化関数（Keras の既定は tanh）",
        keys=(ModelKey("bidirectional", "read each sequence both ways and join the two (Keras's Bidirectional), "
                                        "like bidirectional = true (default false)",
                       check_bidirectional, lambda value: value, default=False),),
        refuses={name: f"this recurrent network has no normalization layers (layer-normalized cells are not "
                       f"offered yet). Remove {name}" for name in ("batch_norm", "layer_norm")}
        | {"spatial_dropout": "spatial dropout drops feature maps of a convolution, and a recurrent network has none. "
                              "Use dropout or recurrent_dropout",
           "stochastic_depth": NO_RESIDUAL_BLOCKS, "cutmix": NOT_IMAGES,
           # Its builder asks no technique for layers, so noise "after every hidden activation" would not be there.
           "gaussian_noise": "the recurrent networks take no layers from techniques yet, so gaussian_noise would add "
                             "no noise to their hidden states. For noise on the inputs use augmentation = "
                             "{ noise = 0.1, shift = 0, rotation = 0, scale = 0 }"},
        min_hidden=1,
        dropout_slots=lambda variant: len(variant.hidden),  # on each recurrent layer's outputs
        builder="reglab.models.recurrent:build",
        fits=lambda variant, image_shape: None,
        cost=_recurrent_cost,
        parameters=_recurrent_parameters,
        activations=_recurrent_activations,
        init_key=lambda variant: (variant.model_params, variant.hidden, variant.init.name),
        stack_key=lambda variant: None,
        stacker=None,  # no stacked form yet (issue 29): the fast engine leaves these to the reference loop
        needs_images=True,  # its steps are the image's rows
        check=_recurrent_check,
    ))
