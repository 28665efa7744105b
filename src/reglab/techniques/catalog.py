"""The torch-backed techniques, declared without torch: names, families, descriptions in both
languages, parameters with their defaults and ranges, Keras-compatible defaults.

`reglab techniques`, the study loader, sweeps and the report read these words; importing torch
takes seconds, so each entry names its factory by import path ("module:function") and the
registry imports it on the first build, when something trains. The factories live beside the
code they build: optimizers.py, inits.py, activations.py, penalties.py, constraints.py,
augmentation.py. Techniques that are plain Python (schedules, early stopping, label smoothing,
layers) declare themselves in their own modules.
"""

from __future__ import annotations

from reglab.techniques.params import Param
from reglab.techniques.registry import PER_RUN, Technique, Words, describe_family, register

# ---------------------------------------------------------------------------------- optimizers
# Keras and PyTorch differ in defaults, not algorithms, for what the tutorial uses (optimizers.py).

LR = Param("lr", "float", 0.01, "learning rate (the schedule's starting value)", low=0.0, low_open=True)
LR_ADAPTIVE = Param("lr", "float", 0.001, "learning rate (the schedule's starting value)", low=0.0, low_open=True)
EPS = Param("eps", "float", 1e-8, "added to the denominator for numerical stability", low=0.0, low_open=True)
BETA1 = Param("beta1", "float", 0.9, "decay of the first-moment (mean) estimate", low=0.0, high=1.0, high_open=True)
BETA2 = Param("beta2", "float", 0.999, "decay of the second-moment estimate", low=0.0, high=1.0, high_open=True)
MOMENTUM = Param("momentum", "float", 0.9, "momentum coefficient (Keras and PyTorch mean the same)", low=0.0, high=1.0, high_open=True)

register(Technique(
    "sgd", "optimizer", "Plain stochastic gradient descent: w -= lr * g",
    "確率的勾配降下法 (SGD): w ← w − η∇L", (LR,), "reglab.techniques.optimizers:_sgd",
))
register(Technique(
    "momentum", "optimizer", "SGD with momentum: v = m*v + g; w -= lr * v",
    "モーメンタム付き SGD: 過去の勾配の移動平均で振動を抑える", (LR, MOMENTUM), "reglab.techniques.optimizers:_momentum",
))
register(Technique(
    "nesterov", "optimizer", "SGD with Nesterov momentum (looks ahead before the gradient step)",
    "ネステロフのモーメンタム付き SGD", (LR, MOMENTUM), "reglab.techniques.optimizers:_nesterov",
))
register(Technique(
    "rmsprop", "optimizer", "RMSprop: divides the step by a running RMS of recent gradients",
    "RMSprop: 勾配の二乗の移動平均で学習率を適応的に調整",
    (LR_ADAPTIVE, Param("rho", "float", 0.99, "decay of the squared-gradient average (PyTorch alpha)",
                        low=0.0, high=1.0, high_open=True), EPS,
     Param("eps_inside_sqrt", "bool", False, "Keras form g/sqrt(v+eps) instead of PyTorch's g/(sqrt(v)+eps)")),
    "reglab.techniques.optimizers:_rmsprop", keras_defaults={"rho": 0.9, "eps": 1e-7, "eps_inside_sqrt": True},
))
register(Technique(
    "adagrad", "optimizer", "Adagrad: per-weight steps shrink with the sum of squared gradients",
    "Adagrad: 勾配の二乗和でパラメータごとに学習率を調整",
    (Param("lr", "float", 0.01, "learning rate", low=0.0, low_open=True),
     Param("initial_accumulator_value", "float", 0.0, "starting value of the squared-gradient sum", low=0.0),
     Param("eps", "float", 1e-10, "added to the denominator for numerical stability", low=0.0, low_open=True)),
    "reglab.techniques.optimizers:_adagrad", keras_defaults={"lr": 0.001, "initial_accumulator_value": 0.1, "eps": 1e-7},
))
register(Technique(
    "adam", "optimizer", "Adam: momentum plus RMSprop-style scaling, with bias correction",
    "Adam: モーメンタムと RMSprop を組み合わせた適応的最適化", (LR_ADAPTIVE, BETA1, BETA2, EPS), "reglab.techniques.optimizers:_adam",
    keras_defaults={"eps": 1e-7},
))
register(Technique(
    "adamw", "optimizer", "AdamW: Adam with decoupled weight decay (Loshchilov & Hutter)",
    "AdamW: 重み減衰を勾配から切り離した Adam",
    (LR_ADAPTIVE, BETA1, BETA2, EPS,
     Param("weight_decay", "float", 0.01, "decoupled decay: w -= lr * weight_decay * w each step", low=0.0)),
    "reglab.techniques.optimizers:_adamw", keras_defaults={"eps": 1e-7, "weight_decay": 0.004},
))

# The Keras 3 optimizers beyond the tutorial's. Keras's lr is 0.001 for all four; PyTorch's
# defaults are kept outside Keras-compatible mode (Nadam and Adamax 0.002, Adadelta 1.0).
register(Technique(
    "nadam", "optimizer", "Nadam: Adam with Nesterov momentum (Dozat 2016), looks ahead along the mean",
    "Nadam: ネステロフのモーメンタムを取り入れた Adam",
    (Param("lr", "float", 0.002, "learning rate (the schedule's starting value)", low=0.0, low_open=True),
     BETA1, BETA2, EPS,
     Param("momentum_decay", "float", 0.004, "psi in mu_t = beta1*(1 - 0.5*0.96**(t*psi)); "
           "Keras fixes psi = 1, PyTorch defaults 0.004", low=0.0, low_open=True)),
    "reglab.techniques.optimizers:_nadam", keras_defaults={"lr": 0.001, "eps": 1e-7, "momentum_decay": 1.0},
))
register(Technique(
    "adamax", "optimizer", "Adamax: Adam with the infinity norm, u = max(beta2*u, |g|), in the denominator",
    "Adamax: 分母に勾配の無限大ノルム max(β2·u, |g|) を使う Adam の変種",
    (Param("lr", "float", 0.002, "learning rate (the schedule's starting value)", low=0.0, low_open=True),
     BETA1, BETA2, EPS,
     Param("eps_outside_max", "bool", False, "Keras form m/(max(beta2*u, |g|) + eps) instead of "
           "PyTorch's m/max(beta2*u, |g| + eps)")),
    "reglab.techniques.optimizers:_adamax",
    keras_defaults={"lr": 0.001, "eps": 1e-7, "eps_outside_max": True},
))
register(Technique(
    "adadelta", "optimizer", "Adadelta: steps scaled by the ratio of running RMS of updates to that of gradients",
    "Adadelta: 更新量と勾配の二乗平均平方根の比で歩幅を決める",
    (Param("lr", "float", 1.0, "multiplies the Adadelta step (Keras 0.001, PyTorch 1.0)", low=0.0, low_open=True),
     Param("rho", "float", 0.9, "decay of both running averages", low=0.0, high=1.0, high_open=True),
     Param("eps", "float", 1e-6, "added inside both square roots; sets the first steps' size", low=0.0, low_open=True)),
    "reglab.techniques.optimizers:_adadelta", keras_defaults={"lr": 0.001, "rho": 0.95, "eps": 1e-7},
))
register(Technique(
    "lion", "optimizer", "Lion (Chen et al. 2023): w -= lr*sign(beta1*m + (1-beta1)*g); every weight moves by lr",
    "Lion（Chen ら 2023）: 勾配の移動平均の符号だけで更新し、全ての重みが同じ幅 lr だけ動く",
    (LR_ADAPTIVE,
     Param("beta1", "float", 0.9, "weight of the momentum in the step's direction", low=0.0, high=1.0, high_open=True),
     Param("beta2", "float", 0.99, "decay of the momentum kept between steps", low=0.0, high=1.0, high_open=True),
     Param("weight_decay", "float", 0.0, "decoupled decay: w -= lr * weight_decay * w each step", low=0.0)),
    "reglab.techniques.optimizers:_lion",
))




# ---------------------------------------------------------------------------------- initialisation

register(Technique("glorot_uniform", "init", "Glorot/Xavier uniform, bias 0 (Keras Dense default)",
                   "Glorot 一様分布（Keras の既定）", (), "reglab.techniques.inits:_glorot_uniform"))
register(Technique("he_normal", "init", "He normal (truncated), bias 0: suited to ReLU",
                   "He の正規分布初期化（ReLU 向け）", (), "reglab.techniques.inits:_he_normal"))
register(Technique("torch_default", "init", "PyTorch nn.Linear default: Kaiming uniform a=sqrt(5), uniform bias",
                   "PyTorch の既定の初期化", (), "reglab.techniques.inits:_torch_default"))




# ---------------------------------------------------------------------------------- activations

for _name, _en, _ja in (
    ("relu", "max(0, x)", "ReLU: max(0, x)"),
    ("tanh", "hyperbolic tangent", "双曲線正接 tanh"),
    ("sigmoid", "1 / (1 + exp(-x))", "シグモイド 1/(1+e^(−x))"),
    ("gelu", "Gaussian error linear unit (exact erf form)", "GELU"),
    ("elu", "x if x > 0 else exp(x) - 1", "ELU"),
):
    register(Technique(_name, "activation", _en, _ja, (), f"reglab.techniques.activations:_{_name}"))




# ---------------------------------------------------------------------------------- penalties
# Keras semantics: l1(λ) adds λ·Σ|w|, l2(λ) adds λ·Σw² (no 1/2), hidden kernels only (penalties.py).

STACKED_PENALTY = "reglab.techniques.penalties:StackedPenalty"


def strength(doc: str) -> Param:
    return Param("strength", "float", 0.001, doc, low=0.0)


register(Technique(
    "l1", "penalty", "L1 penalty λ·Σ|w| on hidden kernels: pushes weights to exactly zero (sparsity)",
    "L1 正則化: 損失に λΣ|w| を加え、重みを 0 に近づけスパースにする",
    (strength("λ in λ·Σ|w|"),), "reglab.techniques.penalties:_l1", stacked=STACKED_PENALTY, shorthand="strength",
    words=Words(name=('L1 penalty', 'L1正則化'), short=('L1', 'L1 正則化'), note=(
        '<b>L1 penalty</b> (Lasso): loss + λ·Σ|w| over the hidden kernels (not the output layer, as '
        'in the tutorial). It pulls many weights to zero (sparsity); under a gradient optimizer they '
        'hover near zero rather than at exactly 0: see the weights section.',
        '<b>L1正則化</b>（Lasso）: 損失関数 + λ * Σ|w|（隠れ層のカーネルのみ。チュートリアルと同じく出力層は除く）。多くの重みをゼロへ引き寄せます（スパース性）。勾配による最適化ではちょうど 0 ではなくゼロの近くで揺れます。重みの節を参照してください。'), axis=('L1 λ', 'L1 λ'), point_label=True),
))
register(Technique(
    "l2", "penalty", "L2 penalty λ·Σw² on hidden kernels (Keras l2: no 1/2): shrinks large weights",
    "L2 正則化: 損失に λΣw² を加え、大きな重みを抑える（重み減衰）",
    (strength("λ in λ·Σw²"),), "reglab.techniques.penalties:_l2", stacked=STACKED_PENALTY, shorthand="strength",
    words=Words(name=('L2 penalty', 'L2正則化'), short=('L2', 'L2 正則化'), note=(
        "<b>L2 penalty</b> (Ridge): L(W) = L<sub>0</sub>(W) + λ·Σ W<sub>i</sub>², as Keras's "
        '<code>l2(λ)</code> (no ½). Its gradient adds 2λW, so a plain gradient step becomes '
        'W<sub>new</sub> = (1 − 2ηλ)·W<sub>old</sub> − η·∂L<sub>0</sub>/∂W: the weights shrink '
        'towards zero at every step, hence the name weight decay.',
        '<b>L2正則化</b>（Ridge）: L(W) = L<sub>0</sub>(W) + λ Σ W<sub>i</sub>²（Keras の <code>l2(λ)</code> と同じく ½ なし）。勾配は ∂L<sub>0</sub>/∂W<sub>i</sub> + 2λW<sub>i</sub> となり、更新式は W<sub>new</sub> = (1 − 2ηλ) W<sub>old</sub> − η ∂L<sub>0</sub>/∂W<sub>old</sub>。重みは常に 2ηλ の割合でゼロの方向に縮小されます。これが「<b>重み減衰</b>（Weight Decay）」と呼ばれる理由です。'), axis=('L2 λ', 'L2 λ'), point_label=True),
))
register(Technique(
    "l1_l2", "penalty", "Both penalties at once (Keras L1L2): λ1·Σ|w| + λ2·Σw² (elastic net)",
    "L1 と L2 の併用（Elastic Net）: λ1Σ|w| + λ2Σw²",
    (Param("l1", "float", 0.001, "λ1 in λ1·Σ|w|", low=0.0), Param("l2", "float", 0.001, "λ2 in λ2·Σw²", low=0.0)),
    "reglab.techniques.penalties:_l1_l2", stacked=STACKED_PENALTY,
    words=Words(name=('L1 and L2 penalties', 'L1・L2正則化'), short=('L1 and L2', 'L1・L2 正則化'), note=(
        "<b>L1 and L2 together</b>: loss + λ<sub>1</sub>·Σ|w| + λ<sub>2</sub>·Σw² (Keras's <code>l1_l2</code>).",
        '<b>L1・L2正則化</b>: 損失関数 + λ<sub>1</sub> Σ|w| + λ<sub>2</sub> Σw²（Keras の <code>l1_l2</code>）。')),
))


# ---------------------------------------------------------------------------------- constraints

register(Technique(
    "weight_decay", "constraint",
    "Decoupled weight decay, PyTorch/Keras form (AdamW's weight_decay): w <- w*(1 - lr*rate) each step, "
    "outside the loss; the decay scales with the learning rate",
    "重み減衰（分離型、PyTorch/Keras の形, AdamW/SGDW）: 毎ステップ w ← w(1 − η·rate)。減衰は学習率に比例。"
    "SGD では L2（λ = rate/2）と同じ",
    (Param("rate", "float", 0.01, "decay per step, multiplied by the learning rate", low=0.0),),
    "reglab.techniques.constraints:WeightDecay", shorthand="rate", stacked=PER_RUN,
    words=Words(name=('decoupled weight decay', '重み減衰（分離型）'), short=('weight decay', '重み減衰'), note=(
        '<b>Decoupled weight decay</b> (AdamW, Loshchilov &amp; Hutter): each step shrinks the '
        'weights by lr·λ outside the gradient. With plain SGD this is the same as an L2 penalty; '
        "with Adam it is not, because Adam rescales the penalty's gradient together with the rest of "
        'the gradient.',
        '<b>重み減衰（分離型）</b>（AdamW, Loshchilov &amp; Hutter）: 勾配とは別に、毎ステップ重みを lr·λ の割合で縮めます。素の SGD では L2正則化と同じですが、Adam では異なります（Adam はペナルティの勾配も他の勾配と一緒にスケールし直すため）。'), axis=('decoupled decay', '分離型の重み減衰'), point_label=True),
))
register(Technique(
    "scheduled_decay", "constraint",
    "Decoupled weight decay, Loshchilov & Hutter's form (Algorithm 2): w <- w*(1 - eta_t*rate) each step, "
    "eta_t the schedule's multiplier (lr now / starting lr); the decay does not scale with the learning rate",
    "重み減衰（分離型、Loshchilov & Hutter の論文の形, Algorithm 2）: 毎ステップ w ← w(1 − η_t·rate)。"
    "η_t はスケジュールの倍率（現在の学習率 / 初期学習率）で、減衰は学習率に比例しない",
    (Param("rate", "float", 1e-4, "decay per step at the schedule's start (λ), independent of the learning rate",
           low=0.0, high=1.0),),
    "reglab.techniques.constraints:ScheduledDecay", shorthand="rate", stacked=PER_RUN,
    words=Words(name=("decoupled weight decay, the paper's form", '重み減衰（分離型、論文の形）'), short=('weight decay', '重み減衰'), note=(
        "<b>Decoupled weight decay in the paper's form</b> (Loshchilov &amp; Hutter, Algorithm 2): "
        "each step shrinks the weights by η<sub>t</sub>·λ, with η<sub>t</sub> the schedule's "
        'multiplier (the learning rate now over the starting one), outside the gradient. Unlike '
        "PyTorch's and Keras's form (lr·λ, reglab's <code>weight_decay</code>), the decay does not "
        'grow with the learning rate: the same λ at lr α is <code>weight_decay = λ/α</code>.',
        '<b>重み減衰（分離型、論文の形）</b>（Loshchilov &amp; Hutter, Algorithm 2）: 勾配とは別に、毎ステップ重みを η<sub>t</sub>·λ の割合で縮めます。η<sub>t</sub> はスケジュールの倍率（現在の学習率 / 初期学習率）です。PyTorch や Keras の形（lr·λ、reglab の <code>weight_decay</code>）と違い、減衰は学習率に比例しません。学習率 α での同じ λ は <code>weight_decay = λ/α</code> です。'), axis=("decoupled decay λ (paper's form)", '分離型の重み減衰 λ（論文の形）'), point_label=True),
))
register(Technique(
    "max_norm", "constraint",
    "Max-norm: each unit's incoming weight vector is clipped to norm max_value after every step",
    "最大ノルム制約: 各ユニットへの入力重みベクトルのノルムを max_value 以下に保つ",
    (Param("max_value", "float", 3.0, "largest allowed L2 norm of a unit's incoming weights",
           low=0.0, low_open=True),),
    "reglab.techniques.constraints:MaxNorm", shorthand="max_value", stacked=PER_RUN,
    words=Words(name=('max-norm constraint', '最大ノルム制約'), short=('max-norm', '最大ノルム制約'), note=(
        "<b>Max-norm constraint</b>: after each step every unit's incoming weight vector is rescaled "
        'to a norm of at most c (Srivastava et al. 2014), usually together with dropout.',
        '<b>最大ノルム制約</b>: 各ステップの後、各ユニットに入る重みベクトルのノルムが c 以下になるように縮めます（Srivastava et al. 2014）。通常はドロップアウトと組み合わせます。'), point_label=True),
))


# ---------------------------------------------------------------------------------- augmentation

register(Technique(
    "augmentation", "augmentation",
    "Data augmentation: random shift, rotation and scaling per image (one batched affine warp), "
    "plus optional Gaussian noise",
    "データ拡張: 画像ごとにランダムな平行移動・回転・拡大縮小（バッチ一括のアフィン変換）と任意のガウスノイズ",
    (Param("shift", "float", 0.1, "largest translation, as a fraction of width/height, each way",
           low=0.0, high=0.5),
     Param("rotation", "float", 10.0, "largest rotation in degrees, either way", low=0.0, high=180.0),
     Param("scale", "float", 0.1, "scaling factor drawn from [1 - scale, 1 + scale]", low=0.0, high=0.9),
     Param("noise", "float", 0.0, "standard deviation of additive Gaussian noise (0: none)",
           low=0.0, high=1.0)),
    "reglab.techniques.augmentation:Augmentation", stacked=PER_RUN, stream="augmentation",
    words=Words(name=('data augmentation', 'データ拡張'), note=(
        '<b>Data augmentation</b>: random shifts, rotations, scaling and noise applied to the '
        'training images, so that the network learns the essential features rather than the exact '
        'training images.',
        '<b>データ拡張</b>: 訓練画像にランダムな平行移動・回転・拡大縮小・ノイズを加え、訓練データの厳密なコピーではなくデータの本質的な特徴を学習させます。')),
))
# Mixing pairs of examples. Neither has a stacked form yet: their objective mixes two labels,
# which the MLP's hand-derived stacked backward pass does not take (the fast engine declines).
register(Technique(
    "mixup", "augmentation",
    "Mixup (Zhang et al. 2018): trains on lam*x_i + (1-lam)*x_j towards lam*y_i + (1-lam)*y_j, "
    "lam ~ Beta(alpha, alpha) per batch",
    "Mixup（Zhang ら 2018）: 2 つの例の凸結合 λx_i + (1−λ)x_j をラベルの同じ結合へ向けて学習（λ ~ Beta(α, α)）",
    (Param("alpha", "float", 0.2, "Beta(alpha, alpha) for the mixing weight; small alpha mixes little",
           low=0.0, low_open=True),),
    "reglab.techniques.mixup:Mixup", shorthand="alpha", stream="mixup",
    words=Words(name=('mixup', 'Mixup'), note=(
        '<b>Mixup</b> (Zhang et al. 2018): each step trains on λ·x<sub>i</sub> + (1 − '
        'λ)·x<sub>j</sub>, pairs of examples mixed with λ ~ Beta(α, α), towards the same mixture of '
        'their labels. The recorded training loss and accuracy stay cross-entropy and accuracy '
        "against each example's own label.",
        '<b>Mixup</b>（Zhang et al. 2018）: 2 つの例を λ ~ Beta(α, α) で混ぜた λ·x<sub>i</sub> + (1 − '
        'λ)·x<sub>j</sub> を、ラベルの同じ混合に向けて学習します。記録する訓練損失と正解率は、各例自身のラベルに対する交差エントロピーと正解率のままです。')),
))
register(Technique(
    "cutmix", "augmentation",
    "CutMix (Yun et al. 2019, CNN only): pastes a random rectangle of another image, labels mixed by "
    "its area",
    "CutMix（Yun ら 2019、CNN のみ）: 別の画像の矩形領域を貼り付け、ラベルを面積の比で混ぜる",
    (Param("alpha", "float", 1.0, "Beta(alpha, alpha) for the kept area's share (1: uniform)",
           low=0.0, low_open=True),),
    "reglab.techniques.cutmix:CutMix", shorthand="alpha", stream="mixup",
    words=Words(name=('CutMix', 'CutMix'), note=(
        '<b>CutMix</b> (Yun et al. 2019): each step pastes a random rectangle of another image of '
        "the batch into each image and mixes their labels by the rectangle's share of the pixels.",
        '<b>CutMix</b>（Yun et al. 2019）: 各ステップで、バッチ内の別の画像のランダムな矩形を貼り付け、ラベルを矩形の画素の割合で混ぜます。')),
))


# ---------------------------------------------------------------------------------- noise

register(Technique(
    "gaussian_noise", "noise",
    "Gaussian noise (Keras GaussianNoise): adds N(0, stddev²) to the inputs or to every hidden layer's "
    "output while training",
    "ガウスノイズ（Keras の GaussianNoise）: 訓練中だけ入力または各隠れ層の出力に N(0, σ²) を加える",
    (Param("stddev", "float", 0.1, "standard deviation of the added noise", low=0.0, low_open=True),
     Param("where", "str", "inputs", "inputs (each batch's pixels) or hidden (after every hidden dense "
           "layer's activation)", choices=("inputs", "hidden"))),
    "reglab.techniques.gaussian_noise:GaussianNoise", shorthand="stddev", stream="noise",
    words=Words(name=('Gaussian noise', 'ガウスノイズ'), note=(
        "<b>Gaussian noise</b> (Keras's <code>GaussianNoise</code>): while training, N(0, "
        "σ²) is added to the inputs or to every hidden layer's output; at test time nothing is added.",
        '<b>ガウスノイズ</b>（Keras の <code>GaussianNoise</code>）: 訓練中だけ、入力または各隠れ層の出力に N(0, σ²) を加えます。テスト時には何も加えません。')),
))


# ---------------------------------------------------------------------------------- gradients
# Both act on the gradient of the whole objective, after the penalties have added theirs (order).

register(Technique(
    "gradient_clipping", "gradient",
    "Gradient clipping as Keras's optimizers do it: clipnorm (each tensor), global_clipnorm (all together) "
    "or clipvalue (each element)",
    "勾配クリッピング（Keras のオプティマイザと同じ）: clipnorm（テンソルごと）、global_clipnorm（全体）、clipvalue（要素ごと）",
    (Param("limit", "float", 1.0, "the largest norm (clipnorm, global_clipnorm) or absolute value (clipvalue)",
           low=0.0, low_open=True),
     Param("mode", "str", "global_clipnorm", "which of Keras's three: clipnorm, global_clipnorm or clipvalue",
           choices=("clipnorm", "global_clipnorm", "clipvalue"))),
    "reglab.techniques.gradient_clipping:GradientClipping", shorthand="limit", order=10,
    words=Words(name=('gradient clipping', '勾配クリッピング'), note=(
        "<b>Gradient clipping</b>, as Keras's optimizers: <code>clipnorm</code> rescales "
        "each tensor's gradient to a norm of at most c, <code>global_clipnorm</code> all of them "
        'together, <code>clipvalue</code> clips each element into [−c, c]. It bounds the size of a '
        'step, not its direction (except clipvalue).',
        '<b>勾配クリッピング</b>（Keras のオプティマイザと同じ）: <code>clipnorm</code> はテンソルごとに勾配のノルムを c 以下に、'
        '<code>global_clipnorm</code> は全体のノルムを c 以下に縮め、<code>clipvalue</code> は各要素を [−c, c] に切り詰めます。')),
))
register(Technique(
    "sam", "gradient",
    "Sharpness-aware minimization (Foret et al. 2021): steps with the gradient at w + rho*g/||g||, "
    "the worst nearby point (two gradient passes per step)",
    "SAM（Foret ら 2021）: 近傍で損失が最も大きい点 w + ρg/‖g‖ での勾配で更新する（1 ステップに勾配計算 2 回）",
    (Param("rho", "float", 0.05, "radius of the neighbourhood", low=0.0, low_open=True),
     Param("adaptive", "bool", False, "ASAM (Kwon et al. 2021): the neighbourhood scaled by |w|")),
    "reglab.techniques.sharpness:SAM", shorthand="rho", order=20,
    words=Words(name=('sharpness-aware minimization', 'SAM（シャープネス考慮最小化）'), note=(
        '<b>Sharpness-aware minimization</b> (SAM, Foret et al. 2021): each step takes the gradient '
        'at the worst point within a radius ρ, w + ρ·g/‖g‖, and applies it at w, seeking weights '
        'whose whole neighbourhood has a low loss (flat minima). It costs two gradient passes per '
        'step.',
        '<b>SAM</b>（シャープネス考慮最小化, Foret et al. 2021）: 各ステップで半径 ρ 内の最悪点 w + ρ·g/‖g‖ での勾配を計算し、それを w '
        'に適用します。近傍全体で損失が低い重み（平坦な最小値）を探します。1 ステップに勾配計算が 2 回かかります。')),
))


# ---------------------------------------------------------------------------------- weight averaging
# The network is evaluated, tested and stored with the average (weight_averaging.py). The fast
# engine declines both: its stacked networks have no evaluation hook yet.

register(Technique(
    "swa", "averaging",
    "Stochastic weight averaging (Izmailov et al. 2018): evaluates the equal average of the weights at each "
    "epoch's end from epoch `start` on, batch-norm statistics recomputed (torch.optim.swa_utils)",
    "確率的重み平均 SWA（Izmailov ら 2018）: start エポック以降の各エポック終了時の重みの平均で評価する"
    "（バッチ正規化の統計量は再計算, torch.optim.swa_utils と同じ）",
    (Param("start", "int", 5, "the first epoch (from 0) whose weights join the average", low=0),
     Param("batch_size", "int", 128, "batch size of the pass that recomputes batch-norm statistics", low=1)),
    "reglab.techniques.weight_averaging:SWA", shorthand="start",
    words=Words(name=('stochastic weight averaging', '確率的重み平均（SWA）'), note=(
        '<b>Stochastic weight averaging</b> (SWA, Izmailov et al. 2018): from a chosen epoch on, the '
        "weights at each epoch's end are averaged with equal weight, and the network is evaluated, "
        'tested and stored with that average (batch-norm statistics recomputed for it), which tends '
        'to sit in a wider, flatter region of the loss than any single iterate.',
        '<b>確率的重み平均</b>（SWA, Izmailov et al. 2018）: 指定したエポック以降、各エポック終了時の重みを等しい重みで平均し、'
        '評価・テスト・保存にはその平均を使います（バッチ正規化の統計量は平均に合わせて再計算）。平均は個々の重みより損失の広く平坦な領域に位置しやすくなります。')),
))
register(Technique(
    "ema", "averaging",
    "Exponential moving average of the weights (Keras use_ema): avg = momentum*avg + (1-momentum)*w after "
    "every step; the network is evaluated with the average",
    "重みの指数移動平均 EMA（Keras の use_ema）: 毎ステップ avg = m·avg + (1−m)·w。評価には平均した重みを使う",
    (Param("momentum", "float", 0.99, "weight of the old average at each step (Keras ema_momentum)",
           low=0.0, high=1.0, high_open=True),),
    "reglab.techniques.weight_averaging:EMA", shorthand="momentum",
    words=Words(name=('weight moving average', '重みの指数移動平均（EMA）'), note=(
        "<b>Exponential moving average of the weights</b> (EMA, Keras's <code>use_ema</code>): after "
        'every step avg = m·avg + (1 − m)·w; the network is evaluated, tested and stored with the '
        "average, which smooths out the last steps' noise.",
        '<b>重みの指数移動平均</b>（EMA, Keras の <code>use_ema</code>）: 毎ステップ avg = m·avg + (1 − m)·w。'
        '評価・テスト・保存には平均した重みを使い、最後の数ステップのノイズをならします。')),
))


describe_family('optimizer', Words(name=('optimizer', '最適化アルゴリズム'), note=(
    '<b>Optimizers</b>: SGD θ ← θ − η∇J(θ); momentum v ← γv − η∇J(θ), θ ← θ + v; RMSprop '
    'E[g²]<sub>t</sub> = 0.9·E[g²]<sub>t−1</sub> + 0.1·g<sub>t</sub>², θ ← θ − η·g<sub>t</sub> / '
    '√(E[g²]<sub>t</sub> + ε); Adam m ← β<sub>1</sub>m + (1 − β<sub>1</sub>)g, v ← β<sub>2</sub>v + '
    '(1 − β<sub>2</sub>)g², θ ← θ − η·m̂ / (√v̂ + ε).',
    '<b>最適化アルゴリズム</b>: SGD θ = θ − η∇J(θ)、モーメンタム v = γv − η∇J(θ), θ = θ + v、RMSprop '
    'E[g²]<sub>t</sub> = 0.9E[g²]<sub>t−1</sub> + 0.1g²<sub>t</sub>, θ = θ − η / √(E[g²]<sub>t</sub> '
    '+ ε) * g<sub>t</sub>、Adam m = β<sub>1</sub>m + (1−β<sub>1</sub>)g, v = β<sub>2</sub>v + '
    '(1−β<sub>2</sub>)g², θ = θ − η * m̂ / (√v̂ + ε)。')))


describe_family('init', Words(name=('initialisation', '初期化')))


describe_family('activation', Words(name=('activation', '活性化関数')))
