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
from reglab.techniques.registry import PER_RUN, Technique, register

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
))
register(Technique(
    "l2", "penalty", "L2 penalty λ·Σw² on hidden kernels (Keras l2: no 1/2): shrinks large weights",
    "L2 正則化: 損失に λΣw² を加え、大きな重みを抑える（重み減衰）",
    (strength("λ in λ·Σw²"),), "reglab.techniques.penalties:_l2", stacked=STACKED_PENALTY, shorthand="strength",
))
register(Technique(
    "l1_l2", "penalty", "Both penalties at once (Keras L1L2): λ1·Σ|w| + λ2·Σw² (elastic net)",
    "L1 と L2 の併用（Elastic Net）: λ1Σ|w| + λ2Σw²",
    (Param("l1", "float", 0.001, "λ1 in λ1·Σ|w|", low=0.0), Param("l2", "float", 0.001, "λ2 in λ2·Σw²", low=0.0)),
    "reglab.techniques.penalties:_l1_l2", stacked=STACKED_PENALTY,
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
))
register(Technique(
    "max_norm", "constraint",
    "Max-norm: each unit's incoming weight vector is clipped to norm max_value after every step",
    "最大ノルム制約: 各ユニットへの入力重みベクトルのノルムを max_value 以下に保つ",
    (Param("max_value", "float", 3.0, "largest allowed L2 norm of a unit's incoming weights",
           low=0.0, low_open=True),),
    "reglab.techniques.constraints:MaxNorm", shorthand="max_value", stacked=PER_RUN,
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
))
register(Technique(
    "cutmix", "augmentation",
    "CutMix (Yun et al. 2019, CNN only): pastes a random rectangle of another image, labels mixed by "
    "its area",
    "CutMix（Yun ら 2019、CNN のみ）: 別の画像の矩形領域を貼り付け、ラベルを面積の比で混ぜる",
    (Param("alpha", "float", 1.0, "Beta(alpha, alpha) for the kept area's share (1: uniform)",
           low=0.0, low_open=True),),
    "reglab.techniques.cutmix:CutMix", shorthand="alpha", stream="mixup",
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
))
register(Technique(
    "sam", "gradient",
    "Sharpness-aware minimization (Foret et al. 2021): steps with the gradient at w + rho*g/||g||, "
    "the worst nearby point (two gradient passes per step)",
    "SAM（Foret ら 2021）: 近傍で損失が最も大きい点 w + ρg/‖g‖ での勾配で更新する（1 ステップに勾配計算 2 回）",
    (Param("rho", "float", 0.05, "radius of the neighbourhood", low=0.0, low_open=True),
     Param("adaptive", "bool", False, "ASAM (Kwon et al. 2021): the neighbourhood scaled by |w|")),
    "reglab.techniques.sharpness:SAM", shorthand="rho", order=20,
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
))
register(Technique(
    "ema", "averaging",
    "Exponential moving average of the weights (Keras use_ema): avg = momentum*avg + (1-momentum)*w after "
    "every step; the network is evaluated with the average",
    "重みの指数移動平均 EMA（Keras の use_ema）: 毎ステップ avg = m·avg + (1−m)·w。評価には平均した重みを使う",
    (Param("momentum", "float", 0.99, "weight of the old average at each step (Keras ema_momentum)",
           low=0.0, high=1.0, high_open=True),),
    "reglab.techniques.weight_averaging:EMA", shorthand="momentum",
))
