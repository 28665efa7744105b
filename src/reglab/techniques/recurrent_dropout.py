"""Dropout on the recurrent state of an LSTM or GRU (models/recurrent.py), two ways:

- `recurrent_dropout`, variational (Gal & Ghahramani 2016, "A Theoretically Grounded Application of
  Dropout in Recurrent Neural Networks"; Keras's `recurrent_dropout`): one mask per sequence,
  drawn when the sequence starts and used at every step on h(t-1) before the recurrent kernel, so
  that a dropped unit stays dropped for the whole sequence;
- `naive_recurrent_dropout`: the same place with a fresh mask at every step, the form that Gal &
  Ghahramani (and Zaremba et al. 2014 before them) found to hurt: the noise compounds along the
  sequence. It is here for the study that shows it, not as a recommendation.

Both answer the recurrent architectures' `Slot("recurrent", "state", layer, units)` (techniques/hooks.py)
with a techniques.dropout.RecurrentDropout layer, which the cell asks for its masks.

Dropout on the non-recurrent connections (Zaremba et al.: each layer's outputs) is the plain
`dropout` technique on a recurrent model. Masks come from the run's dropout generator, so runs are
reproducible and resumable. Only the recurrent architectures accept these (models/catalog.py).
This file is torch-free.
"""

from __future__ import annotations

from reglab.techniques.params import Param
from reglab.techniques.registry import Technique, Words, register

RATE = Param("rate", "float", 0.25, "probability to drop a unit of the recurrent state h(t-1)",
             low=0.0, high=1.0, high_open=True)

register(Technique(
    "recurrent_dropout", "layer",
    "Variational recurrent dropout (Gal & Ghahramani 2016; Keras recurrent_dropout, LSTM/GRU only): one mask "
    "per sequence on the recurrent state, the same at every time step",
    "変分リカレントドロップアウト（Gal と Ghahramani 2016、Keras の recurrent_dropout、LSTM/GRU のみ）: 再帰状態に"
    "系列ごとに一つのマスクをかけ、全時刻で同じマスクを使う",
    (RATE,), "reglab.techniques.dropout:VariationalRecurrentDropout", shorthand="rate",
    words=Words(name=('variational recurrent dropout', '変分リカレントドロップアウト'), note=(
        "<b>Variational recurrent dropout</b> (Gal &amp; Ghahramani 2016; Keras's "
        '<code>recurrent_dropout</code>): the recurrent state h(t−1) of an LSTM or GRU is '
        'multiplied, before the recurrent kernel, by a dropout mask drawn once per sequence and used '
        'at every time step, so that a dropped unit stays dropped for the whole sequence. At test '
        "time nothing is dropped. Dropout on the layer's outputs (the non-recurrent connections, "
        'Zaremba et al. 2014) is the plain <i>dropout</i>.',
        '<b>変分リカレントドロップアウト</b>（Gal と Ghahramani 2016、Keras の <code>recurrent_dropout</code>）: LSTM や '
        'GRU の再帰状態 h(t−1) に、再帰の重みを掛ける前にドロップアウトのマスクを掛けます。マスクは系列ごとに一度だけ引き、全時刻で同じものを使うので、'
        '落としたユニットは系列の間ずっと落ちたままです。テスト時には何も落としません。層の出力（再帰でない結合、Zaremba ら 2014）へのドロップアウトは通常の '
        '<i>dropout</i> です。')),
))
register(Technique(
    "naive_recurrent_dropout", "layer",
    "Naive recurrent dropout (LSTM/GRU only): a fresh mask on the recurrent state at every time step; the noise "
    "compounds along the sequence (shown to hurt by Gal & Ghahramani 2016), kept for comparison",
    "素朴なリカレントドロップアウト（LSTM/GRU のみ）: 時刻ごとに新しいマスクを再帰状態にかける。ノイズが系列に沿って"
    "積み重なり、性能を損なうことが知られている（Gal と Ghahramani 2016）。比較のための手法",
    (RATE,), "reglab.techniques.dropout:NaiveRecurrentDropout", shorthand="rate",
    words=Words(name=('naive recurrent dropout', '素朴なリカレントドロップアウト'), note=(
        '<b>Naive recurrent dropout</b>: the same place as variational recurrent dropout, but a '
        'fresh mask at every time step. The noise compounds along the sequence and disturbs what the '
        'state carries; Gal &amp; Ghahramani (2016) found it to hurt. It is in reglab for '
        'comparison, not as a recommendation.',
        '<b>素朴なリカレントドロップアウト</b>: 変分リカレントドロップアウトと同じ場所に、時刻ごとに新しいマスクを掛けます。ノイズが系列に沿って積み重なり、状態が運ぶ情報を乱します。'
        'Gal と Ghahramani（2016）は性能を損なうと報告しています。推奨ではなく、比較のために用意しています。')),
))
