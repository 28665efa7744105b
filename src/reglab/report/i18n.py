"""The report's words in English and Japanese. Japanese follows the tutorial's terms (過学習,
正則化, 早期終了, 重み減衰, 学習率スケジューリング, ドロップアウト, バッチ正規化) and quotes its formulas.

Strings here are trusted text with {placeholders}; what fills a placeholder is escaped by the caller.
Strings whose key ends in `_html` hold markup of ours (<code>, <b>) and nothing from a user.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

LANGS = ("en", "ja")


def default_lang(environ: Mapping[str, str] | None = None) -> str:
    """Japanese when the locale is: the first of LC_ALL, LC_MESSAGES, LANG that is set decides,
    as POSIX ranks them."""
    environ = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


# Class names in a Japanese report, by dataset, where the dataset's own names are words (digits
# and MNIST's are numerals, the same in both). Used only when the stored names are exactly the
# dataset's English ones: a user's own labels are shown as they are.
CLASS_NAMES_JA: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "fashion-mnist": (("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                       "Bag", "Ankle boot"),
                      ("Tシャツ/トップ", "ズボン", "プルオーバー", "ドレス", "コート", "サンダル", "シャツ", "スニーカー",
                       "バッグ", "アンクルブーツ")),
}


def class_names(names: list[str], dataset: str | None, lang: str) -> list[str]:
    """The class names as a report in `lang` shows them."""
    known = CLASS_NAMES_JA.get(dataset or "")
    if lang == "ja" and known is not None and tuple(names) == known[0]:
        return list(known[1])
    return list(names)


def t(lang: str, key: str, **values: object) -> str:
    en, ja = STRINGS[key]
    text = ja if lang == "ja" else en
    return text.format(**values) if values else text


STRINGS: dict[str, tuple[str, str]] = {
    # ---------------------------------------------------------------- page
    "title": ("reglab report: {study}", "reglab レポート: {study}"),
    "subtitle": ("{variants_en} × {seeds_en} on {dataset} ({train} train / {val} validation / {test} test)",
                 "{dataset} 上で {variants} バリアント × {seeds} シード（訓練 {train} / 検証 {val} / テスト {test}）"),
    "source": ("Every number comes from the stored runs in {path}.", "すべての数値は {path} に保存された実行結果から計算しています。"),
    "contents": ("Contents", "目次"),
    "unknown": ("unknown", "不明"),
    # ---------------------------------------------------------------- sections
    "sec_missing": ("What is missing", "欠けているもの"),
    "sec_findings": ("Findings", "わかったこと"),
    "sec_accuracy": ("Test accuracy and comparison with the baseline", "テスト精度と基準との比較"),
    "sec_curves": ("Learning curves and overfitting", "学習曲線と過学習"),
    "sec_gap": ("Generalisation gap", "汎化ギャップ"),
    "sec_lr": ("Learning rate", "学習率"),
    "sec_errors": ("Errors on the test set", "テストセットでの誤り"),
    "sec_weights": ("Weights", "重み"),
    "sec_model": ("Model summary", "モデルの概要"),
    "sec_techniques": ("The techniques in this study", "この研究で使った手法"),
    "sec_method": ("How the numbers are computed", "数値の求め方"),
    "sec_config": ("Configuration, versions and seeds", "設定・バージョン・シード"),
    # ---------------------------------------------------------------- missing
    "missing_intro": ("This run directory is incomplete. The report shows what could be read; these parts are "
                      "missing or damaged:",
                      "この実行ディレクトリは不完全です。読み取れた範囲で報告します。欠けている・壊れている部分:"),
    "missing_explanations": ("the stored explanations (`reglab explain` writes them again)",
                             "保存された説明（`reglab explain` で書き直せます）"),
    "missing_study": ("the resolved study: variants, baselines and comparisons are unknown",
                      "展開済みの研究設定（study.json）: バリアント・基準・比較が不明です"),
    "missing_data": ("the dataset description: class names and split sizes are unknown",
                     "データセットの説明: クラス名と分割サイズが不明です"),
    "missing_environment": ("the environment: versions and device are unknown", "実行環境: バージョンとデバイスが不明です"),
    "missing_study_toml": ("the study file as written (the resolved study below is complete)",
                           "書かれたままの研究ファイル（下の展開済みの設定は完全です）"),
    "missing_test_split": ("the test split: no confusion matrix, per-class table or image galleries",
                           "テスト分割: 混同行列・クラス別の表・画像一覧は表示できません"),
    "missing_model": ("a model summary", "モデルの概要"),
    "missing_record": ("a run record: this seed is left out", "実行記録: このシードは除外しています"),
    "missing_damaged": ("a damaged run record: this seed is left out", "壊れた実行記録: このシードは除外しています"),
    "missing_arrays": ("a run's predictions and weights: left out of the error and weight analyses",
                       "実行の予測と重み: 誤りと重みの分析から除外しています"),
    "detail_missing": ("missing", "ファイルがありません"),
    "detail_unreadable": ("unreadable", "読み取れません"),
    "detail_in_progress": ("interrupted while it ran: a checkpoint is there", "実行途中で中断（チェックポイントあり）"),
    # ---------------------------------------------------------------- findings
    "no_findings": ("No finished runs to report on.", "報告できる完了した実行がありません。"),
    # ---------------------------------------------------------------- accuracy section
    "accuracy_caption": (
        "Left: mean test accuracy per variant with its {confidence}% interval across seeds (a t interval on the "
        "logit scale, so it stays between 0 and 100%); the small dots are single seeds. Right: the paired difference to the variant's baseline over the same seeds, with its "
        "{confidence}% t interval. Filled green: reliably better, filled red: reliably worse (paired t-test, "
        "Holm-adjusted p < {alpha}); grey: undecided, no difference shown (which is no evidence that there is none); "
        "hollow: undecided with fewer than {min_seeds} paired seeds. The intervals are not adjusted for the study's "
        "several comparisons; the verdicts are (Holm).",
        "左: バリアントごとの平均テスト精度と、シード間の {confidence}% 信頼区間（ロジット尺度の t 区間で、0〜100% に収まる）。"
        "小さな点は各シード。右: 同じシードでの"
        "基準との差（対応のある差）と {confidence}% t 信頼区間。塗りつぶしの緑は確かな改善、赤は確かな悪化（対応のある t 検定、"
        "Holm 補正後 p < {alpha}）、灰色は差が示されず判定できないこと（差がないことの証拠ではありません）、白抜きは対応のある"
        "シードが {min_seeds} 個未満で判定できないことを示します。区間は研究内の複数の比較について補正していませんが、判定は補正"
        "しています（Holm）。"),
    "table_variants": ("Per variant", "バリアントごと"),
    "table_comparisons": ("Against the baseline (paired over the same seeds)", "基準との比較（同じシードで対応づけ）"),
    "table_tests": ("The tests behind each verdict", "判定の根拠となる検定"),
    "col_variant": ("variant", "バリアント"),
    "col_description": ("description", "説明"),
    "col_baseline": ("baseline", "基準"),
    "col_changes": ("what differs", "違い"),
    "col_test_accuracy": ("test accuracy % [{confidence}% CI]", "テスト精度 % [{confidence}% 信頼区間]"),
    "col_test_loss": ("test loss [{confidence}% CI]", "テスト損失 [{confidence}% 信頼区間]"),
    "col_best_val_loss": ("lowest val. loss", "検証損失の最小値"),
    "col_seeds": ("seeds", "シード"),
    "col_diverged": ("diverged", "発散"),
    "col_seconds": ("seconds / run", "秒 / 実行"),
    "col_difference": ("Δ test accuracy (points) [{confidence}% CI, unadjusted]",
                       "テスト精度の差（ポイント）[{confidence}% 信頼区間、補正なし]"),
    "col_bootstrap": ("bootstrap {confidence}% CI", "ブートストラップ {confidence}% 信頼区間"),
    "col_better": ("better in", "上回ったシード"),
    "col_t_p": ("t-test p", "t 検定 p"),
    "col_wilcoxon_p": ("Wilcoxon p", "Wilcoxon p"),
    "col_holm_p": ("Holm p", "Holm 補正 p"),
    "col_effect": ("effect d_z", "効果量 d_z"),
    "col_verdict": ("verdict", "判定"),
    "col_loss_difference": ("Δ test loss [{confidence}% CI, unadjusted]", "テスト損失の差 [{confidence}% 信頼区間、補正なし]"),
    "col_loss_holm_p": ("test loss: Holm p", "テスト損失: Holm 補正 p"),
    "verdict_better": ("reliably better", "確かな改善"),
    "verdict_worse": ("reliably worse", "確かな悪化"),
    "verdict_no_clear_difference": ("undecided (no difference shown)", "判定できない（差は示されず）"),
    "verdict_not_conclusive": ("undecided (< {min_seeds} seeds)", "判定できない（{min_seeds} シード未満）"),
    "no_comparisons": ("No variant names a baseline that has runs, so there is nothing to compare.",
                       "実行結果のある基準を持つバリアントがないため、比較はありません。"),
    # ---------------------------------------------------------------- curves
    "overfitting_html": (
        "<b>Overfitting</b> shows in the learning curves as a bend (the tutorial's \u201celbow\u201d): from some point "
        "on, training loss keeps falling while validation loss alone starts to rise. The epoch where that happens "
        "is marked in each panel.",
        "<b>過学習</b>は学習曲線では「曲がり角」として現れます。チュートリアルの言葉では「ある時点（グラフの「曲がり角」）を境に、"
        "訓練損失は下がり続けるが、検証損失だけが上昇し始める」。その時点（過学習の始まり）を各パネルに示しています。"),
    "curves_caption": (
        "Mean over seeds (line) and the range from the lowest to the highest seed (band). Dashed: training, solid: "
        "validation. The dotted vertical line marks the mean overfitting onset of the seeds whose validation loss "
        "turned upward (shaded: earliest to latest). Losses are the cross-entropy alone, without the L1/L2 "
        "penalty, so that variants with and without a penalty are compared on the same quantity. Training loss and "
        "accuracy are running means over each epoch with dropout active, as Keras reports them. Epochs are counted "
        "from 0, as Keras's callbacks and the tutorial's plots count them. The loss axis is logarithmic; the "
        "accuracy axis starts a little below the lowest final accuracy, so that the late epochs' differences show, "
        "and a slow start (SGD's, for one) may begin below it: the loss figure shows every epoch whole.",
        "線はシードの平均、帯は最も低いシードから最も高いシードまでの範囲です。破線は訓練、実線は検証。点線の縦線は検証損失が"
        "上昇に転じたシードの過学習の始まり（平均）を示し、網掛けは最も早いものから最も遅いものまでです。損失はクロスエントロピー"
        "のみで L1/L2 のペナルティ項を含みません（ペナルティの有無にかかわらず同じ量で比べるため）。訓練の損失と精度は Keras と"
        "同じく、ドロップアウトを有効にしたままのエポック内の移動平均です。エポックは Keras のコールバックやチュートリアルのグラフと"
        "同じく 0 から数えます。損失の軸は対数目盛です。精度の軸は、後半のエポックの差が見えるよう、最終エポックの最低の精度の少し下から"
        "始まるため、立ち上がりの遅い曲線（たとえば SGD）は最初の数エポックが軸の下に隠れることがあります。損失の図にはすべてのエポックが"
        "表示されます。"),
    "norm_lag_caption": (
        "Batch norm: in {variants}, the loss on training images in evaluation mode (running statistics) was far above "
        "the training loss (batch statistics) at the last epoch. Their running averages lag behind the data, so the "
        "validation curves above show stale statistics, not overfitting (see the findings).",
        "バッチ正規化: {variants} では、最後のエポックで訓練画像の評価モード（移動平均の統計量）での損失が、訓練中（バッチの統計量）の"
        "損失を大きく上回りました。移動平均がデータに追いついていないため、上の検証曲線が示すのは過学習ではなく古い統計量です"
        "（「わかったこと」を参照）。"),
    "onset_table": ("Overfitting onset per seed", "シードごとの過学習の始まり"),
    "col_onset_seeds": ("onset epoch per seed (– = none)", "シードごとの始まりのエポック（– = なし）"),
    "col_onset_mean": ("mean ± std", "平均 ± 標準偏差"),
    "col_turned": ("turned upward", "上昇に転じた"),
    "col_epochs": ("epochs", "エポック"),
    "col_gap": ("final gap (val − train loss)", "最終ギャップ（検証 − 訓練損失）"),
    "gap_caption": (
        "The generalisation gap over epochs: validation loss minus training loss, mean over seeds with the range "
        "of seeds as a band; the grey dashed line is the variant's baseline. A growing gap is the mark of "
        "overfitting. With dropout the training loss is measured with units dropped, so the gap can be negative.",
        "エポックごとの汎化ギャップ（検証損失 − 訓練損失）。線はシードの平均、帯はシードの範囲、灰色の破線はそのバリアントの基準です。"
        "ギャップが広がり続けるのが過学習のしるしです。ドロップアウトでは訓練損失をユニットを落とした状態で測るため、ギャップが負に"
        "なることがあります。"),
    # ---------------------------------------------------------------- learning rate
    "lr_caption": (
        "The learning rate at the start of each epoch, as the runs recorded it; variants that share a schedule share "
        "a line. Learning-rate scheduling lowers it as training goes on: large steps early, "
        "fine adjustment late.",
        "各エポックの開始時の学習率（実行記録より）。同じスケジュールのバリアントは 1 本の線にまとめています。学習率スケジューリングは"
        "訓練が進むにつれて学習率を下げます。初期は大きな学習率で素早く収束し、後半は小さな学習率で細かく調整します。"),
    # ---------------------------------------------------------------- errors
    "errors_intro": ("These figures show {variant}, the variant with the highest mean test accuracy, over "
                     "{seeds_en} (galleries: seed {seed}).",
                     "以下は平均テスト精度が最も高い {variant} の結果です（全 {seeds} シードの合計。画像一覧はシード {seed}）。"),
    "errors_intro_sweep": ("These figures show {variant}, the point its sweep recommended on validation data (its "
                           "best point, when the sweep is undecided), over {seeds_en} (galleries: seed {seed}).",
                           "以下はスイープが検証データで推奨した（未決定のスイープでは最良の）{variant} の結果です（全 {seeds} シードの合計。画像一覧はシード {seed}）。"),
    "figures_thinned": ("The figures below draw {shown} of the study's {total} variants: every hand-written variant and, "
                        "of each sweep of more than {limit} points, its ends, its recommended and best points and "
                        "the ends of its one-SE band. The sweep's own figures above show every point.",
                        "以下の図は {total} 個のバリアントのうち {shown} 個を描きます。手で書いたバリアントはすべて、"
                        "{limit} 点を超えるスイープからは両端・推奨点・最良点・1 SE 帯の両端だけです。"
                        "すべての点は上のスイープの図にあります。"),
    "confusion_caption": ("Confusion matrix summed over seeds. Each row is a true class; the colour and the number "
                          "are the share of that class predicted as each column's class (%).",
                          "シードを合計した混同行列。各行が正解のクラスで、色と数値はそのクラスが各列のクラスと予測された割合（%）です。"),
    "per_class_table": ("Per-class precision, recall and F1 (mean over seeds)", "クラスごとの適合率・再現率・F1（シードの平均）"),
    "col_class": ("class", "クラス"),
    "col_precision": ("precision", "適合率"),
    "col_recall": ("recall", "再現率"),
    "col_f1": ("F1", "F1"),
    "col_support": ("test images", "テスト画像数"),
    "pairs_table": ("Most confused pairs", "最も混同されたクラスの組"),
    "col_true": ("true class", "正解"),
    "col_predicted": ("predicted as", "予測"),
    "col_count_per_seed": ("images per seed", "1 シードあたりの枚数"),
    "col_share_of_true": ("share of the true class", "正解クラスに占める割合"),
    "no_confusions": ("No test image was misclassified.", "誤分類されたテスト画像はありません。"),
    "gallery_caption": ("Misclassified test images, most frequent confusions first.",
                        "誤分類されたテスト画像（多い混同から順に）。"),
    "samples_caption": ("The first ten test images with their predictions, as the tutorial shows them "
                        "(red: wrong).", "チュートリアルと同じく、最初の 10 枚のテスト画像とその予測（赤は誤り）。"),
    "f1_caption": ("F1 per class for every variant (mean over seeds): where each technique helps or hurts.",
                   "全バリアントのクラスごとの F1（シードの平均）。どの手法がどのクラスに効くかがわかります。"),
    "no_test_split": ("The test split is missing from this run directory: no error analysis.",
                      "この実行ディレクトリにはテスト分割がないため、誤りの分析はできません。"),
    # ---------------------------------------------------------------- weights
    # The sentences about what L1 and L2 do hold whatever the numbers; what they did in this study
    # is said from the near-zero shares themselves (weights_measured, report/html._weights): an L2
    # variant with many near-zero weights is not told it has none (issue 24).
    "weights_intro_html": (
        "The L1 penalty adds λ·Σ|w| to the loss: a pull of the same size towards zero on every weight, which "
        "can leave many weights at zero (sparsity). L2 adds λ·Σw², a pull in proportion to each weight: it "
        "shrinks every weight, and a weight shrunk far enough falls below the threshold too. With a gradient "
        "optimizer a weight that L1 pulls to zero does not land on exactly 0: each step moves it by about the "
        "learning rate (Adam) past zero and back, so it hovers within about that distance. That is why a weight "
        "counts here as near zero when |w| &lt; {threshold}. Only kernels (the weight matrices) count, not biases.",
        "L1正則化は損失関数に λ * Σ|w| を加え、すべての重みを同じ強さでゼロへ引き寄せるため、多くの重みがゼロになることがあります"
        "（スパース性）。L2正則化は λ * Σw² を加え、重みの大きさに比例して引き寄せます。すべての重みを小さくし、十分に小さく"
        "なった重みはしきい値を下回ります。勾配による最適化では、L1 がゼロへ引き寄せた重みもちょうど 0 には"
        "なりません。1 ステップごとにおよそ学習率の大きさ（Adam）だけゼロをまたいで動くため、その範囲で揺れます。そのため、ここでは "
        "|w| &lt; {threshold} の重みを「ほぼゼロ」と数えます。数えるのはカーネル（重み行列）だけで、バイアスは含みません。"),
    "weights_measured": ("In this study, the share of near-zero weights in the hidden kernels (mean over seeds): "
                         "{shares}.",
                         "この研究での隠れ層のカーネルに占めるほぼゼロの重みの割合（シードの平均）: {shares}。"),
    "weights_more": ("{variant} has more of them than its baseline {baseline} ({share} against {base_share})",
                     "{variant} はベースラインの {baseline} よりほぼゼロの重みが多い（{share} 対 {base_share}）"),
    "weights_fewer": ("{variant} has fewer of them than its baseline {baseline} ({share} against {base_share})",
                      "{variant} はベースラインの {baseline} よりほぼゼロの重みが少ない（{share} 対 {base_share}）"),
    "weights_as_many": ("{variant} has about as many as its baseline {baseline} ({share} against {base_share})",
                        "{variant} のほぼゼロの重みはベースラインの {baseline} と同程度（{share} 対 {base_share}）"),
    "sparsity_caption": ("Share of near-zero weights per layer (% of the layer's kernel, mean over seeds).",
                         "層ごとのほぼゼロの重みの割合（その層のカーネルに占める %、シードの平均）。"),
    "histogram_caption": ("Histograms of the final kernel weights of each variant's first seed (all layers; "
                          "logarithmic count axis, so that the spike at zero and the tails both show). The range covers "
                          "99.9% of the widest variant's weights: the few weights beyond it are counted in the two "
                          "outermost bins.",
                          "各バリアントの最初のシードの最終的な重み（全層のカーネル）のヒストグラム。縦軸は対数で、ゼロの山と裾の両方が見えます。"
                          "横軸の範囲は最も広がったバリアントの重みの 99.9% を含み、それより外側のわずかな重みは両端の区間に数えています。"),
    "sparsity_caption_layers": (
        "Share of near-zero weights per layer (% of the layer's kernel, mean over seeds), one table per "
        "architecture. Each layer is named with its kernel's shape as Keras writes it: a convolution's "
        "height×width×input channels×filters, a dense layer's inputs×outputs, a recurrent layer's input kernel "
        "inputs×gates·units and recurrent kernel units×gates·units (an LSTM has 4 gates, a GRU 3).",
        "層ごとのほぼゼロの重みの割合（その層のカーネルに占める %、シードの平均）。構造ごとに 1 つの表です。層名の括弧内は "
        "Keras と同じ書き方のカーネルの形で、畳み込み層は 高さ×幅×入力チャネル数×フィルタ数、全結合層は 入力数×出力数、"
        "再帰層の入力の重みは 入力数×ゲート数·ユニット数、再帰の重みは ユニット数×ゲート数·ユニット数（LSTM のゲートは 4、GRU は 3）です。"),
    "histogram_caption_layers": (
        "Histograms of the final kernel weights of each variant's first seed, one row per variant and one panel per "
        "layer: convolution, dense and recurrent kernels start from different ranges (Glorot's, or orthogonal for "
        "a recurrent kernel), so pooled they would hide each other. A layer of the same name and shape has the same range in every row (99.9% of its widest "
        "variant's weights; the few beyond are counted in the outermost bins); the count axis is logarithmic.",
        "各バリアントの最初のシードの最終的な重み（カーネル）のヒストグラム。1 行が 1 バリアント、1 枚が 1 層です。"
        "畳み込み層・全結合層・再帰層のカーネルは初期化の範囲（Glorot、再帰の重みは直交初期化）が異なるため、まとめると互いを隠してしまいます。同じ名前と形の層は"
        "どの行でも同じ横軸の範囲（最も広がったバリアントの重みの 99.9%、外側のわずかな重みは両端の区間）で、縦軸は対数です。"),
    "no_weights": ("No stored weights could be read.", "保存された重みを読み取れませんでした。"),
    # ---------------------------------------------------------------- model
    "model_for": ("Variants: {names}", "バリアント: {names}"),
    "weight_norm_caption": (
        "The norm of the hidden kernels (sqrt(Σw²), the weights that L2 and weight decay shrink) at the end of each "
        "epoch, mean over seeds. Each panel puts a variant that uses decoupled weight decay beside its L2 baseline: "
        "with SGD the two lines lie on each other (one update), with Adam they part.",
        "各エポックの終わりの隠れ層のカーネルのノルム（sqrt(Σw²)、L2正則化と重み減衰が縮める重み）。シードの平均です。"
        "各パネルは分離型の重み減衰を使うバリアントを、その基準（L2正則化）と並べています。SGD では 2 本の線が重なり（同じ更新）、"
        "Adam では離れます。"),
    "pair_distance_caption": (
        "The distance between the hidden weights of each pair's two runs (same seed, same starting weights and "
        "batches) at the end of every epoch, as a % of the baseline's weight norm: line, the mean over seeds; band, "
        "their range. A decoupled-decay variant is paired with its L2 baseline. With plain SGD an L2 penalty λ and "
        "decoupled decay 2λ are one update, so that pair stays on zero; with Adam they are different regularizers "
        "and the pair parts. Estimated from {buckets}-bucket count sketches of the weights stored at each epoch: "
        "a seed's value is typically within ±{error}% of the exact distance (two standard deviations, so about 19 "
        "values in 20; docs/report.md).",
        "各組の 2 つの実行（同じシード、同じ初期重みとミニバッチ）の隠れ層の重みの距離を、各エポックの終わりに基準の重みの"
        "ノルムに対する % で示します。線はシードの平均、帯はその範囲です。分離型の重み減衰のバリアントを、その基準（L2正則化）と"
        "組にしています。素の SGD では L2正則化 λ と分離型の重み減衰 2λ は同じ更新なので距離はゼロのままです。Adam では別の"
        "正則化なので離れていきます。各エポックに保存した重みの {buckets} バケットのカウントスケッチからの推定で、1 シードの値と"
        "正確な距離との差は通常 ±{error}% 以内です（標準偏差の 2 倍で、およそ 20 個中 19 個。docs/report.md）。"),
    "fig_pair_distance": ("distance between the pair's weights (% of norm)", "組の重みの距離（ノルムに対する %）"),
    "fig_pair_distance_title": ("Distance between the pair's weights over training", "訓練中の組の重みの距離"),
    "fig_pair_label": ("{variant} vs {baseline} (last epoch: {last})", "{variant} と {baseline}（最後のエポック: {last}）"),
    "fig_weight_norm": ("hidden-weight norm", "隠れ層の重みのノルム"),
    "fig_weight_norm_title": ("L2 in the loss against decoupled weight decay", "損失に加える L2正則化と分離型の重み減衰"),
    "fig_distance": ("final weights differ by {distance} of their norm", "最終的な重みの差: ノルムの {distance}"),
    "col_layer": ("Layer (type)", "Layer (type)"),
    "col_shape": ("Output Shape", "Output Shape"),
    "col_params": ("Param #", "Param #"),
    "total_params": ("Total params: {total} (trainable: {trainable})", "パラメータ総数: {total}（学習可能: {trainable}）"),
    "no_model": ("No model summary was stored.", "モデルの概要は保存されていません。"),
    # ---------------------------------------------------------------- method
    "method_html": (
        "<p><b>Intervals.</b> For every metric, the mean over seeds and a {confidence}% t interval: mean ± "
        "t<sub>n−1</sub> · s / √n, with s the sample standard deviation. A single seed has no interval. An "
        "interval of a bounded quantity (an accuracy or a share of weights between 0 and 100%, a loss or a time "
        "that cannot be negative) is the t interval computed where the quantity is unbounded (the logit of an "
        "accuracy, the log of a loss) and mapped back, so that it stays inside the range without being cut.</p>"
        "<p><b>Paired comparisons.</b> Each variant is compared with its baseline (the study's <code>baseline</code>) "
        "over the seeds both completed. The same seed means the same data order and, for the same architecture, "
        "the same initial weights, so the difference per seed cancels what the seed itself contributes. Reported: "
        "the mean difference with its t interval, a percentile bootstrap interval of the mean difference "
        "({resamples} resamples, fixed seed {bootstrap_seed}), the paired t-test and the Wilcoxon signed-rank test "
        "(two-sided), the effect size d<sub>z</sub> = mean difference / standard deviation of the differences, and "
        "the t-test p after Holm's correction across all comparisons of the study. A difference is called real when "
        "the Holm-adjusted p is below {alpha} and at least {min_seeds} seeds are paired; otherwise the report "
        "says it is undecided, never that the variants are the same (with 4 pairs Wilcoxon cannot go below "
        "p = 0.125, and a t-test rests on its normality assumption alone). The t interval shown beside a verdict "
        "is not adjusted for the study's comparisons and is labelled so, with the Holm-adjusted p beside it. The "
        "best variant is the set not shown worse than the highest mean test accuracy (one-sided paired t-tests "
        "against it, Bonferroni): read on test data, for reporting only.</p>"
        "<p><b>Overfitting onset.</b> The validation loss of each run is smoothed with a centred moving average of "
        "width {width} (at the ends the window holds the epochs that exist). The onset is the first epoch where the "
        "smoothed curve is lowest, counted only if it turned upward for good: at the last epoch both the smoothed "
        "and the raw validation loss are more than {margin}% above that minimum. Otherwise the run has no onset "
        "within its epochs. The spread across seeds is the mean ± standard deviation of the seeds that turned.</p>"
        "<p><b>Losses.</b> reglab records the cross-entropy without the L1/L2 penalty (see docs/results.md); "
        "Keras's logged losses add the penalty.</p>"
        "<p><b>Time.</b> A run's seconds are the wall-clock time of its training and per-epoch validation, "
        "including earlier attempts when it was resumed from a checkpoint. Runs trained at once share the machine: "
        "on a CPU one run per core; in a stack of the fast engine (on a GPU, every seed of an architecture at once) "
        "each run is charged an equal share of the stack's time until it ends. Compare seconds within one report, "
        "not across machines.</p>",
        "<p><b>信頼区間。</b>各指標について、シードの平均と {confidence}% t 信頼区間（平均 ± t<sub>n−1</sub> · s / √n、"
        "s は標本標準偏差）を示します。シードが 1 つのときは区間はありません。値の範囲が決まっている量（精度や重みの割合は 0〜100%、"
        "損失や時間は負にならない）の区間は、範囲の制約のない尺度（精度ならロジット、損失なら対数）で t 区間を求めて元の尺度に戻したもので、"
        "境界で打ち切らずに範囲内に収まります。</p>"
        "<p><b>対応のある比較。</b>各バリアントを、その基準（研究の <code>baseline</code>）と、両方が完了した同じシードで比べます。"
        "同じシードはデータの順序が同じで、同じ構造なら初期重みも同じなので、シードごとの差をとるとシード自体の影響が打ち消されます。"
        "示すのは、差の平均とその t 信頼区間、差の平均のパーセンタイル・ブートストラップ区間（{resamples} 回の再標本化、"
        "乱数シード {bootstrap_seed} で固定）、対応のある t 検定と Wilcoxon の符号付き順位検定（両側）、効果量 "
        "d<sub>z</sub>（差の平均 / 差の標準偏差）、研究内のすべての比較にわたる Holm 補正後の t 検定の p 値です。"
        "Holm 補正後の p が {alpha} 未満で、対応のあるシードが {min_seeds} 個以上あるときだけ差があると判定します。"
        "そうでないときは「判定できない」と書き、同じだとは書きません（4 組では Wilcoxon の p は 0.125 より小さくなれず、t 検定は"
        "正規性の仮定だけに頼ることになるため）。判定の横の t 信頼区間は研究内の比較について補正しておらず、そう明記して Holm 補正後の p を"
        "並べます。最良のバリアントは、平均テスト精度が最も高いものより悪いと示されなかったものの集合です（それとの片側の対応のある t 検定、"
        "Bonferroni 補正）。テストデータで読んだもので、報告のためだけのものです。</p>"
        "<p><b>過学習の始まり。</b>各実行の検証損失を幅 {width} の中心移動平均で平滑化します（両端では存在するエポックだけで平均）。"
        "平滑化した曲線が最小になる最初のエポックを始まりとしますが、本当に上昇に転じた場合だけ数えます。すなわち、最後のエポックで"
        "平滑化した検証損失と元の検証損失の両方が、その最小値より {margin}% 以上大きいときです。そうでなければ、その実行には訓練した"
        "エポック内で過学習の始まりはありません。シード間のばらつきは、上昇に転じたシードの平均 ± 標準偏差です。</p>"
        "<p><b>損失。</b>reglab は L1/L2 のペナルティ項を含まないクロスエントロピーを記録します（docs/results.md 参照）。"
        "Keras が表示する損失にはペナルティ項が加わっています。</p>"
        "<p><b>時間。</b>実行の秒数は、訓練とエポックごとの検証にかかった実時間です（チェックポイントから再開した実行では、"
        "それ以前の試行の分も含みます）。同時に訓練した実行はマシンを分け合います。CPU ではコアごとに 1 実行、高速エンジンの"
        "スタック（GPU では同じ構造の全シードをまとめて訓練）では、スタックの時間を各実行が終わるまで等分して割り当てます。"
        "秒数は同じレポートの中で比べ、別のマシンとは比べないでください。</p>"),
    # ---------------------------------------------------------------- configuration
    "config_seeds": ("Seeds", "シード"),
    "config_environment": ("Versions and device", "バージョンとデバイス"),
    "config_data": ("Data", "データ"),
    "config_toml": ("The study as written (study.toml)", "書かれたままの研究（study.toml）"),
    "data_what": ("What the data were: {origin}{size}, sha256 {fingerprint}.", "データ: {origin}{size}、sha256 {fingerprint}。"),
    "ref_short_logistic": ("logistic", "ロジスティック"),
    "ref_short_hist_gradient_boosting": ("boosting", "ブースティング"),
    "ref_logistic": ("Reference: logistic regression (scikit-learn, L2, C = 1) on the same splits",
                     "参照: 同じ分割で学習したロジスティック回帰（scikit-learn、L2、C = 1）"),
    "ref_hist_gradient_boosting": ("Reference: histogram gradient boosting (scikit-learn's defaults) on the same splits",
                                   "参照: 同じ分割で学習したヒストグラム勾配ブースティング（scikit-learn の既定値）"),
    "data_file": ("the file {path}", "ファイル {path}"),
    "data_size": (" ({bytes:,} bytes)", "（{bytes:,} バイト）"),
    "data_table": ("Target column {target}; {count} feature columns: {features}.",
                   "目的列 {target}、特徴量 {count} 列: {features}。"),
    "data_fit_table": ("Every statistic of the preprocessing (means, scales, medians, categories) was read from the "
                       "{train} training rows only; data.json holds the fit, and a prediction applies the same.",
                       "前処理の統計量（平均、スケール、中央値、カテゴリ）はすべて訓練の {train} 行だけから求めています。"
                       "data.json に保存され、予測にも同じものを使います。"),
    "config_resolved": ("The resolved study (study.json: every default filled in)",
                        "展開済みの研究設定（study.json: 既定値をすべて書き込んだもの）"),
    "config_manifest": ("Run directory", "実行ディレクトリ"),
    "config_report": ("Report written by reglab {version}.", "このレポートは reglab {version} が作成しました。"),
    # ---------------------------------------------------------------- figure labels
    "fig_epoch": ("epoch", "エポック"),
    "fig_loss": ("loss (cross-entropy)", "損失（クロスエントロピー）"),
    "fig_accuracy": ("accuracy", "精度"),
    "fig_train": ("training", "訓練"),
    "fig_validation": ("validation", "検証"),
    "fig_onset": ("overfitting onset", "過学習の始まり"),
    "fig_onset_short": ("onset {epoch} ({turned}/{runs})", "始まり {epoch}（{turned}/{runs}）"),
    "fig_loss_title": ("Loss per epoch", "エポックごとの損失"),
    "fig_accuracy_title": ("Accuracy per epoch", "エポックごとの精度"),
    "fig_gap": ("val. − train loss", "検証 − 訓練損失"),
    "fig_gap_title": ("Generalisation gap per epoch", "エポックごとの汎化ギャップ"),
    "fig_baseline": ("baseline", "基準"),
    "fig_test_accuracy": ("test accuracy (%)", "テスト精度（%）"),
    "fig_difference": ("difference to the baseline (points)", "基準との差（ポイント）"),
    "fig_baseline_marker": (" (baseline)", "（基準）"),
    "fig_lr": ("learning rate", "学習率"),
    "fig_lr_title": ("Learning rate per epoch", "エポックごとの学習率"),
    "fig_true": ("true class", "正解のクラス"),
    "fig_predicted": ("predicted class", "予測したクラス"),
    "fig_confusion_title": ("Confusion matrix: {variant} (% of each true class)",
                            "混同行列: {variant}（正解クラスごとの %）"),
    "fig_f1_title": ("F1 per class", "クラスごとの F1"),
    "fig_label_pair": ("true: {true}\npredicted: {predicted}", "正解: {true}\n予測: {predicted}"),
    "fig_weight": ("weight value", "重みの値"),
    "fig_count": ("count (log)", "個数（対数）"),
    "fig_near_zero": ("{share}% near zero", "{share}% がほぼゼロ"),
    "fig_sparsity_title": ("Near-zero weights (|w| < {threshold}) per layer, %",
                           "層ごとのほぼゼロの重み（|w| < {threshold}）, %"),
    "fig_hidden": ("hidden {i}", "隠れ層 {i}"),
    "fig_filters_title": ("First convolution's filters (first seed)", "最初の畳み込み層のフィルタ（最初のシード）"),
    "filters_caption": ("The filters of each CNN variant's first convolution, as images (first seed; red positive, "
                        "blue negative): the strokes and edges the network looks for. Each variant has its own colour "
                        "scale: compare the patterns, and the weight histograms for their strength.",
                        "各 CNN バリアントの最初の畳み込み層のフィルタを画像で表示（最初のシード。赤が正、青が負、"
                        "色の範囲はバリアントごと）。ネットワークが探す線やエッジを表します。色の範囲がバリアント"
                        "ごとに異なるため、模様を比べ、重みの大きさは重みのヒストグラムで比べてください。"),
    "fig_output": ("output", "出力層"),
    "fig_conv_layer": ("conv {i} ({shape})", "畳み込み {i}（{shape}）"),
    "fig_dense_layer": ("dense {i} ({shape})", "全結合 {i}（{shape}）"),
    "fig_rnn_input_layer": ("recurrent {i}, input kernel ({shape})", "再帰層 {i} の入力の重み（{shape}）"),
    "fig_rnn_state_layer": ("recurrent {i}, recurrent kernel ({shape})", "再帰層 {i} の再帰の重み（{shape}）"),
    "fig_output_layer": ("output ({shape})", "出力層（{shape}）"),
    "fig_histogram_title": ("Final kernel weights", "最終的な重み（カーネル）"),
}

# The stored keys of data.json, environment.json and manifest.json, named in a Japanese report.
KEY_NAMES_JA = {
    "dataset": "データセット", "origin": "入手元", "verified": "チェックサム検証済み", "image_shape": "画像の形",
    "splits": "分割", "requested": "要求した分割", "notes": "注記", "class_names": "クラス名", "files": "ファイル",
    "path": "パス", "format": "形式", "study": "研究", "reglab_version": "reglab のバージョン", "created": "作成日時",
    "device": "デバイス", "device_name": "デバイス名", "torch_threads": "torch のスレッド数", "platform": "プラットフォーム",
    "kind": "種類", "task": "タスク", "fingerprint": "指紋 (sha256)", "label_values": "ラベルの値", "bytes": "バイト数",
    "sha256": "sha256", "target": "目的列", "features": "特徴量の列", "columns": "列", "rows": "行数", "shapes": "配列の形",
    "name": "名前", "image_size": "画像の大きさ", "preprocessing": "前処理", "class_counts": "クラスごとの行数",
}

# The notes data/splits.py writes, in Japanese (an unknown note stays as written).
_NOTES_JA = [
    (re.compile(r"(?P<d>\S+) has (?P<n>\d+) images and no separate test set: using (?P<tr>\d+) train / (?P<va>\d+) "
                r"validation / (?P<te>\d+) test \(requested (?P<asked>[\d/]+)\), stratified, split_seed=(?P<seed>\d+)$"),
     "{d} は {n} 枚の画像で、別のテストセットがありません。層化抽出で訓練 {tr} / 検証 {va} / テスト {te} に分けています"
     "（要求は {asked}、split_seed={seed}）"),
    (re.compile(r"(?P<d>\S+): train = training images \[0:(?P<tr>\d+)\], validation = \[(?P=tr):(?P<end>\d+)\], "
                r"(?P<test>test = .*)$"),
     "{d}: 訓練 = 訓練画像 [0:{tr}]、検証 = [{tr}:{end}]、{test}"),
    (re.compile(r"(?P<d>\S+) has (?P<n>\d+) training images: using (?P<tr>\d+) train / (?P<va>\d+) validation "
                r"\(requested (?P<asked>[\d/]+)\), stratified, split_seed=(?P<seed>\d+); (?P<test>test = .*)$"),
     "{d} の訓練画像は {n} 枚です。層化抽出で訓練 {tr} / 検証 {va} に分けています（要求は {asked}、split_seed={seed}）。{test}"),
]
_NOTES_JA.append((
    re.compile(r"(?P<d>.+?): (?P<sizes>[\d/]+) (?P<parts>[a-z/]+) rows drawn from (?P<n>\d+) \(requested (?P<asked>[\d/]+)\)"
               r"(?P<strat>, stratified, split_seed=(?P<seed>\d+))?(?P<own>; .+ as given)?$"),
    "{d}: {n} 行から {sizes} 行（{parts}）を取り出しています（要求は {asked}{strat}{own}）"))
_TEST_NOTE_JA = re.compile(r"test = test images \[0:(?P<n>\d+)\]( \(only (?P<have>\d+) available, requested (?P<asked>\d+)\))?")


def data_note(note: str, lang: str) -> str:
    if lang != "ja":
        return note
    for pattern, template in _NOTES_JA:
        match = pattern.match(note)
        if match:
            values = match.groupdict()
            if values.get("test"):
                test = _TEST_NOTE_JA.match(values["test"])
                if test:
                    values["test"] = f"テスト = テスト画像 [0:{test['n']}]" + (
                        f"（{test['have']} 枚しかありません。要求は {test['asked']}）" if test["have"] else "")
            if "strat" in values:  # a user's data (data/prepared.py split_note)
                words = {"train": "訓練", "validation": "検証", "test": "テスト", " and ": "と"}
                values["parts"] = "/".join(words[p] for p in values["parts"].split("/"))
                values["strat"] = f"、層化抽出、split_seed={values['seed']}" if values["strat"] else ""
                own = (values["own"] or "")[2:].removesuffix(" as given")
                for en, ja in words.items():
                    own = own.replace(en, ja)
                values["own"] = f"。{own} は与えられたものを使用" if own else ""
            return template.format(**values)
    return note


