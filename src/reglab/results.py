"""A stored study, read back for Python and Jupyter: `reglab.run` returns one, `reglab.load` reads
one from any run directory (finished, partial or damaged: what cannot be read is in `missing`).

Everything here reads the run directory only (no torch): histories in Keras's form, pandas frames,
the report, its figures and its findings.
"""

from __future__ import annotations

import html as html_escape
from dataclasses import fields
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reglab.errors import ReglabError
from reglab.store import COMPLETED, EpochRecord, RunRecord, RunStore, StoredRun
from reglab.store.files import Damaged

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import torch
    from matplotlib.figure import Figure

    from reglab.analysis.analyze import Analysis
    from reglab.analysis.collect import Collected, VariantRuns
    from reglab.data.preprocessing import Preprocessing

# Keras's History.history keys and how each is made from a stored epoch. Keras reports its losses
# with the L1/L2 term included (EpochRecord keeps the two parts apart).
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr")
# One row per run and epoch: these columns come from the epoch's record (every field it has, the
# diagnostics included: NaN in runs stored before they existed).
EPOCH_COLUMNS = tuple(f.name for f in fields(EpochRecord) if f.name != "epoch")
RUN_COLUMNS = ("status", "test_accuracy", "test_loss", "engine", "best_epoch", "stopped_epoch", "diverged_at")
EPOCH_NUMBER_COLUMNS = ("best_epoch", "stopped_epoch", "diverged_at")  # an epoch or none: nullable Int64


class StudyResult:
    """The runs of one run directory, and what the report says about them."""

    def __init__(self, run_dir: str | Path):
        from reglab.config import api_checks as A

        self.run_dir = A.path("reglab.load", "run_dir", run_dir)
        self._store = RunStore.open(self.run_dir)

    def __repr__(self) -> str:
        return (f"StudyResult({str(self.run_dir)!r}: {self.name}, {len(self.variants)} variants, "
                f"{len(self.runs)} runs{'' if self.complete else ', incomplete'})")

    # ------------------------------------------------------------------ what is there

    @cached_property
    def _collected(self) -> Collected:
        from reglab.analysis.collect import collect

        return collect(self._store)

    @cached_property
    def analysis(self) -> Analysis:
        """The report's analysis of these runs (reglab.analysis.analyze.Analysis)."""
        from reglab.analysis.analyze import analyze

        return analyze(self._collected)

    @property
    def name(self) -> str:
        return self._collected.study.get("name") or self._collected.manifest.get("study") or self.run_dir.name

    @property
    def study(self) -> dict[str, Any]:
        """The resolved study the directory holds (study.json): every default filled in."""
        return dict(self._collected.study)

    @property
    def dataset(self) -> str | None:
        return self._collected.data.get("dataset")

    @property
    def seeds(self) -> list[int]:
        return list(self._collected.seeds)

    @property
    def variants(self) -> list[str]:
        """Variant names, in the study's order."""
        return [v.name for v in self._collected.variants]

    @property
    def runs(self) -> list[RunRecord]:
        """Every readable run record (reglab.store.RunRecord), by variant then seed."""
        return [stored.record for v in self._collected.variants for stored in v.runs]

    @property
    def missing(self) -> list[str]:
        """What could not be read (damaged, interrupted or never run), one line each."""
        return [f"{m.path}: {m.kind}" + (f" ({m.detail})" if m.detail else "") for m in self._collected.missing]

    @property
    def complete(self) -> bool:
        """Every run of every variant and seed is stored and readable."""
        return not any(m.kind in ("record", "damaged") for m in self._collected.missing) and bool(self.runs)

    def run(self, variant: str, seed: int = 0) -> RunRecord:
        """One run's record; reglab.UnknownName (a KeyError) for a variant or seed that is not stored."""
        return self._stored(variant, seed).record

    def _stored(self, variant: str, seed: int) -> Any:
        from reglab.config import api_checks as A
        from reglab.errors import UnknownName

        A.text("StudyResult", "variant", variant)
        A.whole("StudyResult", "seed", seed)
        collected = self._collected.variant(variant)
        if collected is None:
            raise UnknownName(f"{variant!r} is not a variant of this study: {', '.join(self.variants)}")
        for stored in collected.runs:
            if stored.record.seed == seed:
                return stored
        seeds = [r.record.seed for r in collected.runs]
        raise UnknownName(f"{variant!r} has no stored run of seed {seed} (stored seeds: {seeds or 'none'})")

    def predictions(self, variant: str, seed: int = 0) -> np.ndarray:
        """One run's predicted class for every test example (in the order of `test_labels`)."""
        from reglab.errors import ReglabError
        from reglab.store.files import Damaged

        stored = self._stored(variant, seed)
        try:
            return stored.arrays().test_predictions
        except Damaged as exc:  # the store's own word; a user gets the file and what to do
            raise ReglabError(f"{stored.path.with_suffix('.npz')}: {exc.reason}, so this run's predictions cannot "
                              f"be read (its record and curves still can). Fix: `reglab resume {self.run_dir}` "
                              "trains the run again when its arrays are lost or damaged.") from None

    @property
    def test_labels(self) -> np.ndarray:
        """The test split's labels, as the runs were tested on them."""
        return self._test_split()[0]

    @property
    def test_images(self) -> np.ndarray:
        """The test split's images (uint8, N x H x W)."""
        return self._test_split()[1]

    def _test_split(self) -> tuple[np.ndarray, np.ndarray]:
        collected = self._collected
        if collected.test_labels is None or collected.test_images is None:
            raise ReglabError(f"{self.run_dir / 'test_split.npz'} is missing or damaged: the test labels and "
                              "images cannot be read (the runs' records and curves still can).")
        return collected.test_labels, collected.test_images

    @property
    def class_names(self) -> list[str]:
        return list(self._collected.data.get("class_names") or [])

    # ------------------------------------------------------------------ the trained networks

    @property
    def preprocessing(self) -> Preprocessing:
        """How inputs become the networks' features, as fitted when the study read its data
        (reglab.data.preprocessing): `predict` applies it; `.transform(X)` gives the features."""
        from reglab.data.preprocessing import preprocessing_from_json

        return preprocessing_from_json(self._data_json())

    @property
    def test_inputs(self) -> np.ndarray:
        """The test split as inputs for `predict`: `predict(v, result.test_inputs, seed=s)`
        gives `predictions(v, s)` exactly (on the device type the run was tested on)."""
        images = self.test_images  # a clear error when the test split is missing or damaged
        try:  # a table's rows as read, column by column, or image pixels 8 bits cannot hold
            rows = self._store.test_rows()
        except Damaged as exc:
            raise ReglabError(f"{self.run_dir / 'test_split.npz'} is {'missing' if exc.missing else 'damaged'}: its "
                              f"test rows cannot be read. Fix: `reglab resume {self.run_dir}` writes it again.") from None
        return self.preprocessing.stored_test_inputs(images, rows)

    def model(self, variant: str, seed: int = 0) -> torch.nn.Module:
        """One run's trained network (a torch.nn.Module in eval mode, on the CPU), rebuilt from the
        run directory's stored weights. It takes features, not raw inputs: its `.preprocessing`
        (also `result.preprocessing`) turns inputs into features, and its `.class_names` names its
        outputs, which are logits (softmax gives the probabilities)."""
        from reglab.models.restore import rebuild

        stored = self.stored_run(variant, seed)
        try:
            weights = stored.arrays().weights
        except Damaged as exc:
            npz = stored.path.with_suffix(".npz")
            raise ReglabError(f"{npz} is {'missing' if exc.missing else f'damaged ({exc.reason})'}: the weights "
                              f"of {variant!r} seed {seed} cannot be read. Fix: `reglab resume {self.run_dir}` "
                              "trains that run again (the other runs are kept).") from None
        data = self._data_json()
        model = rebuild(self._study_json(), variant, tuple(data["image_shape"]), len(data["class_names"]), weights,
                        where=str(stored.path.with_suffix(".npz")))
        model.preprocessing = self.preprocessing  # plain attributes: not part of its state_dict
        model.class_names = self.class_names
        return model

    def save_model(self, variant: str, folder: str | Path, seed: int = 0, *, onnx: bool = False) -> Path:
        """Write one run's network as files that plain PyTorch loads without reglab (docs/models.md):
        model.safetensors (its state_dict) and model.json (its layers as torch.nn classes, the
        preprocessing, the class names); with onnx=True also model.onnx, checked with onnxruntime
        against PyTorch. Returns model.json's path. Needs reglab[safetensors] (and reglab[onnx])."""
        from reglab.config import api_checks as A
        from reglab.export.model_files import save_model

        A.flag("StudyResult.save_model", "onnx", onnx)
        return save_model(self, variant, A.path("StudyResult.save_model", "folder", folder), seed, onnx=onnx)

    def explain(self, variant: str, inputs: Any = None, *, method: str = "saliency", seed: int = 0,
                targets: Any = None, preprocessed: bool = False) -> Any:
        """Attribution maps of one run's network (reglab.explain; needs Captum: reglab[explain]):
        for `inputs` as `predict` takes them, or, by default, ten test images (one per class).
        `targets`: the class each map explains (default: the true class of test images, else the
        predicted one). `method`: saliency, integrated_gradients, smoothgrad or occlusion. Returns
        an Explanation (`.maps`, `.figure()`), drawn inline in Jupyter."""
        import numpy as np

        from reglab.config import api_checks as A
        from reglab.explain.attributions import attribute
        from reglab.explain.inline import Explanation
        from reglab.explain.stored_maps import chosen_images

        A.flag("StudyResult.explain", "preprocessed", preprocessed)
        model = self.model(variant, seed)
        if inputs is None:
            chosen = chosen_images(self.test_labels, len(self.class_names) or 10)
            features = self.preprocessing.transform(self.test_inputs[chosen])
            default_targets = self.test_labels[chosen]
        else:
            features = self._features(inputs, preprocessed, False)
            default_targets = self._logits(model, features).argmax(1).numpy()
        chosen_targets = np.asarray(default_targets if targets is None else targets, dtype=np.int64)
        if chosen_targets.shape != (len(features),):
            raise ReglabError(f"targets: {len(features)} inputs need {len(features)} classes, one each "
                              f"(got shape {chosen_targets.shape}).")
        shape = tuple(self._data_json()["image_shape"])
        maps = attribute(model, features, chosen_targets, method, image_shape=shape, seed=seed)
        return Explanation(variant, seed, method, features, chosen_targets, maps, shape, tuple(self.class_names))

    def predict_proba(self, variant: str, X: Any, seed: int | list[int] | str = 0, *,
                      preprocessed: bool = False, eight_bit: bool = False) -> np.ndarray:
        """Class probabilities, float32 (rows, classes), as Keras's `model.predict` and
        scikit-learn's `predict_proba` give them. `X`: inputs as the data have them, prepared by
        the stored preprocessing as training's were: a table's rows (a DataFrame with its columns),
        or images H x W or rows of H*W pixels (0..255, or 0..16 for digits). `preprocessed=True`:
        X are the model's features already; `eight_bit=True`: 8-bit images (0..255) of a dataset
        with other pixel levels (docs/models.md). `seed`: one run, a list of seeds, or "all"
        (every finished run of the variant): an ensemble averages its runs' probabilities."""
        return self.predict_with_probabilities(variant, X, seed, preprocessed=preprocessed, eight_bit=eight_bit)[1]

    def predict(self, variant: str, X: Any, seed: int | list[int] | str = 0, *,
                preprocessed: bool = False, eight_bit: bool = False) -> np.ndarray:
        """The predicted class of each row (an index into `class_names`), as `predict_proba`
        takes its arguments. One run's predictions are the argmax of its logits, as its test was
        scored; an ensemble's the argmax of its averaged probabilities."""
        return self.predict_with_probabilities(variant, X, seed, preprocessed=preprocessed, eight_bit=eight_bit)[0]

    def models(self, variant: str, seed: int | list[int] | str = 0) -> list[torch.nn.Module]:
        """The trained networks of `seed`: one seed, a list of seeds, or "all" (every finished
        run of the variant), as `model` gives each."""
        if seed == "all":
            seeds = [r.record.seed for r in self._variant_runs(variant).runs if r.record.status == COMPLETED]
        elif isinstance(seed, (list, tuple)):
            seeds = list(seed)
        else:
            seeds = [seed]
        if not seeds:
            raise ReglabError(f"{variant!r} has no finished run in {self.run_dir} to predict with. Fix: "
                              f"`reglab resume {self.run_dir}` finishes its runs.")
        return [self.model(variant, s) for s in seeds]

    def predict_with_probabilities(self, variant: str, X: Any, seed: int | list[int] | str = 0, *,
                                   preprocessed: bool = False, eight_bit: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(`predict`, `predict_proba`) at the cost of one: the networks run once."""
        import torch

        from reglab.config import api_checks as A

        A.flag("StudyResult.predict", "preprocessed", preprocessed)
        A.flag("StudyResult.predict", "eight_bit", eight_bit)
        models = self.models(variant, seed)
        features = self._features(X, preprocessed, eight_bit)
        logits = [self._logits(model, features) for model in models]
        probabilities = torch.stack([torch.softmax(z, dim=1) for z in logits]).mean(0)
        classes = logits[0].argmax(1) if len(logits) == 1 else probabilities.argmax(1)
        return classes.numpy(), probabilities.numpy()

    def _features(self, X: Any, preprocessed: bool, eight_bit: bool) -> np.ndarray:
        prep = self.preprocessing
        return prep.features(X) if preprocessed else prep.transform(X, eight_bit=eight_bit)

    @staticmethod
    def _logits(model: torch.nn.Module, features: np.ndarray) -> torch.Tensor:
        import torch

        from reglab.engine.core import chunked_logits

        chunks = [logits for _, logits in chunked_logits(model, torch.from_numpy(features))]
        return torch.cat(chunks) if chunks else torch.zeros((0, len(model.class_names)))

    def _variant_runs(self, variant: str) -> VariantRuns:
        collected = self._collected.variant(variant)
        if collected is None or variant not in self.variants:
            raise ReglabError(f"{variant!r} is not a variant of the study in {self.run_dir}. Fix: name one of "
                              f"its variants: {', '.join(self.variants)}.")
        return collected

    def stored_run(self, variant: str, seed: int) -> StoredRun:
        """One finished run as the store holds it (its record and where its weights are)."""
        runs = self._variant_runs(variant).runs
        stored = next((r for r in runs if r.record.seed == seed), None)
        if stored is None:
            finished = [r.record.seed for r in runs]
            raise ReglabError(f"{variant!r} has no finished run of seed {seed!r} in {self.run_dir} (finished seeds: "
                              f"{', '.join(map(str, finished)) or 'none'}). Fix: pass one of those, or "
                              f"`reglab resume {self.run_dir}` to finish the study.")
        if stored.record.status != COMPLETED:
            raise ReglabError(f"{variant!r} seed {seed} diverged (epoch {stored.record.diverged_at}): its weights are "
                              "not finite and predict nothing. Fix: predict with another seed or variant.")
        return stored

    def _data_json(self) -> dict[str, Any]:
        if not self._collected.data:
            raise ReglabError(f"{self.run_dir / 'data.json'} is missing or damaged: what the networks were trained "
                              f"on is unknown. Fix: `reglab resume {self.run_dir}` writes it again.")
        return self._collected.data

    def _study_json(self) -> dict[str, Any]:
        if not self._collected.study:
            raise ReglabError(f"{self.run_dir / 'study.json'} and its copy are damaged: the networks cannot be "
                              "rebuilt. Fix: train the study anew.")
        return self._collected.study

    def history(self, variant: str, seed: int = 0) -> dict[str, list[float]]:
        """One run's epochs in the form of Keras's `History.history`: loss, accuracy, val_loss,
        val_accuracy, lr. As in Keras, loss and val_loss include the L1/L2 penalty (the stored
        records and `to_pandas()` keep the cross-entropy and the penalty apart)."""
        logs = [e.keras_logs() for e in self.run(variant, seed).history]
        return {key: [epoch[key] for epoch in logs] for key in HISTORY_KEYS}

    def results(self) -> dict[str, Any]:
        """What `reglab results --format json` prints (docs/results.md)."""
        from reglab.analysis.summary import study_results

        return study_results(self._store)

    # ------------------------------------------------------------------ pandas

    def to_pandas(self) -> pd.DataFrame:
        """Tidy: one row per run and epoch (variant, seed, epoch, the epoch's metrics, the run's
        outcome) with the variant's settings as columns (`hidden`, `optimizer`, `optimizer.lr`,
        `dropout.rate`, ...; NaN where a variant does not use a technique). Numbers are numeric
        columns: float64 with NaN where not recorded, pandas' nullable Int64 for epochs
        (`best_epoch`, `stopped_epoch`, `diverged_at`: <NA> where there is none). `dropout.rate`
        and `spatial_dropout.rate` are one form: a tuple of one rate per place, also where the
        study gave one rate for all (docs/python-api.md)."""
        import pandas as pd

        places = _dropout_places(self.study)
        settings = {v.name: {**_settings(v.spec), **places.get(v.name, {})} for v in self._collected.variants}
        rows = []
        for record in self.runs:
            run = {"variant": record.variant, "seed": record.seed}
            outcome = {column: getattr(record, column) for column in RUN_COLUMNS}
            for epoch in record.history:
                rows.append({**run, "epoch": epoch.epoch, **{c: getattr(epoch, c) for c in EPOCH_COLUMNS},
                             **outcome, **settings.get(record.variant, {})})
        columns = ["variant", "seed", "epoch", *EPOCH_COLUMNS, *RUN_COLUMNS]
        frame = pd.DataFrame(rows)
        if frame.empty:
            return pd.DataFrame(columns=columns)
        for column in (*EPOCH_COLUMNS, "test_accuracy", "test_loss"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")  # None -> NaN
        for column in EPOCH_NUMBER_COLUMNS:
            frame[column] = frame[column].astype("Int64")
        return frame[columns + [c for c in frame.columns if c not in columns]]

    def summary(self, lang: str | None = None) -> pd.DataFrame:
        """One row per variant: test accuracy and loss over seeds (mean, std and the 95% interval of
        the mean, which stays inside the quantity's range: docs/report.md), seeds completed and
        diverged, and the comparison with its baseline on test accuracy: the mean difference with
        its paired t interval (not adjusted for the study's comparisons), the Holm-adjusted p, and
        the verdict in words of `lang` (`verdict_code`: the same as data, docs/report.md)."""
        import pandas as pd

        from reglab.analysis.statistics import MIN_SEEDS
        from reglab.report.i18n import t

        lang = _lang(lang)
        rows = []
        for v in self.analysis.variants:
            row: dict[str, Any] = {"variant": v.name, "baseline": v.baseline, "seeds": len(v.seeds),
                                   "completed": len(v.completed), "diverged": len(v.diverged)}
            for metric in ("test_accuracy", "test_loss"):
                interval = v.metrics.get(metric)
                for part in ("mean", "std", "low", "high"):
                    row[f"{metric}_{part}"] = getattr(interval, part) if interval is not None else None
            comparison = self.analysis.comparison("test_accuracy", v.name)
            difference = comparison.difference if comparison is not None else None
            for part in ("mean", "low", "high"):
                row[f"difference_{part}"] = getattr(difference, part) if difference is not None else None
            row["holm_p"] = comparison.holm_p if comparison is not None else None
            row["verdict"] = (t(lang, f"verdict_{comparison.verdict}", min_seeds=MIN_SEEDS)
                              if comparison is not None else None)
            row["verdict_code"] = comparison.verdict if comparison is not None else None
            rows.append(row)
        return pd.DataFrame(rows).set_index("variant") if rows else pd.DataFrame()

    def _repr_html_(self) -> str:
        title = html_escape.escape(f"{self.name} — {self.dataset or '?'}, {len(self.runs)} runs, {self.run_dir}")
        table = self.summary()
        body = table.to_html(float_format=lambda x: f"{x:.4f}", na_rep="–") if not table.empty else "<p>no runs</p>"
        return f"<div><p><b>{title}</b></p>{body}</div>"

    # ------------------------------------------------------------------ report, findings, figures

    def findings(self, lang: str | None = None) -> list[dict[str, Any]]:
        """What the report says, as data: kind, variant, verdict, the numbers behind the sentence,
        and the sentence (`text`, in `lang`; both languages under en and ja)."""
        from reglab.analysis.findings import findings

        lang = _lang(lang)
        return [finding.to_json() | {"text": finding.text(lang)} for finding in findings(self.analysis)]

    def sweeps(self, lang: str | None = None) -> list[dict[str, Any]]:
        """Each sweep of the study as data: its points with their statistics, the point recommended on
        validation data by the one-SE rule, the one-SE band, the stability share, the comparison with
        doing nothing, the regimes, and what the report says about it (`findings`, in `lang`)."""
        from reglab.report import sweep_text

        lang = _lang(lang)
        return [sweep.to_json() | {"findings": sweep_text.findings([sweep], lang)} for sweep in self.analysis.sweeps]

    def report(self, lang: str | None = None) -> Report:
        """The report (the one `reglab report` writes), shown inline in Jupyter; `.save(path)`."""
        from reglab.analysis.findings import findings
        from reglab.report import figure_pngs, html

        lang = _lang(lang)
        analysis = self.analysis
        return Report(html.render(analysis, findings(analysis), figure_pngs(analysis, lang), lang), lang)

    def write_report(self, out_dir: str | Path | None = None, lang: str | None = None) -> Path:
        """report.html, the figures as PNG and findings.json into `out_dir` (default RUN_DIR/report)."""
        from reglab.config import api_checks as A
        from reglab.report import write_report

        # The report module itself, not lab.write_report: lab reads results through this class, and a
        # face of the store does not call back up into the composition place.
        return write_report(self.run_dir, A.path("StudyResult.write_report", "out_dir", out_dir, optional=True),
                            _lang(lang))

    @property
    def plot(self) -> Plots:
        """Figures as matplotlib Figures: plot.learning_curves(), plot.test_accuracy(),
        plot.confusion_matrix(), plot.sweep(), ... (each takes lang="en" or "ja")."""
        return Plots(self)


class Report:
    """A self-contained HTML report: shown inline in Jupyter, saved with `.save(path)`."""

    def __init__(self, html: str, lang: str):
        self.html = html
        self.lang = lang

    def save(self, path: str | Path) -> Path:
        from reglab.config import api_checks as A

        path = A.path("Report.save", "path", path)
        path.write_text(self.html, encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        # In an iframe: the report's own styles must not restyle the notebook around it.
        return (f'<iframe srcdoc="{html_escape.escape(self.html, quote=True)}" title="reglab report" '
                'style="width: 100%; height: 900px; border: 1px solid #ddd;"></iframe>')

    def __repr__(self) -> str:
        return f"<reglab report ({self.lang}), {len(self.html):,} characters; .save(path) writes it>"


class Plots:
    """The report's figures, one method each; every method returns a matplotlib Figure (shown
    inline in Jupyter) or raises ValueError when there is nothing to draw."""

    def __init__(self, result: StudyResult):
        self._result = result

    def names(self) -> list[str]:
        from reglab.report.figures import FIGURES

        return list(FIGURES)

    def figure(self, name: str, lang: str | None = None) -> Figure:
        """Any of the report's figures by its file name (see `names()`)."""
        import matplotlib

        from reglab.report import figures

        make = figures.FIGURES.get(name)
        if make is None:
            raise ValueError(f"no figure {name!r}: the figures are {', '.join(figures.FIGURES)}")
        lang = _lang(lang)
        with matplotlib.rc_context(figures.style(lang)):
            drawn = make(self._result.analysis, lang)
        if drawn is None:
            raise ValueError(f"nothing to draw for {name!r} in {self._result.run_dir} (no finished runs with "
                             "what it needs)")
        _show_inline_in_jupyter()
        return drawn

    def learning_curves(self, metric: str = "loss", lang: str | None = None) -> Figure:
        """Training and validation `loss` or `accuracy` per epoch, a panel per variant, over seeds."""
        if metric not in ("loss", "accuracy"):
            raise ValueError(f"metric is {metric!r}: use 'loss' or 'accuracy'")
        return self.figure(f"learning_curves_{metric}", lang)

    def test_accuracy(self, lang: str | None = None) -> Figure:
        """Each variant's test accuracy over seeds with its 95% interval, against its baseline."""
        return self.figure("test_accuracy", lang)

    def confusion_matrix(self, lang: str | None = None) -> Figure:
        """The best variant's confusion matrix, summed over seeds."""
        return self.figure("confusion_matrix", lang)

    def sweep(self, index: int = 0, lang: str | None = None) -> Figure:
        """A one-factor sweep's curve (validation and test metric against the swept setting, over
        seeds, the recommended point marked); the two-factor sweeps as heatmaps with `index="heatmaps"`."""
        import matplotlib

        from reglab.report import figures, sweep_figures

        sweeps = self._result.analysis.sweeps
        if not sweeps:
            raise ValueError(f"{self._result.run_dir} holds no sweep (reglab.run(..., sweep=...) makes one)")
        lang = _lang(lang)
        with matplotlib.rc_context(figures.style(lang)):
            if index == "heatmaps":
                drawn = sweep_figures.heatmaps(sweeps, lang)
            else:
                drawn = sweep_figures.one_factor(sweeps[index], lang)
        if drawn is None:
            raise ValueError("nothing to draw: a sweep curve needs one numeric factor and two points with "
                             "finished runs; heatmaps need two factors")
        _show_inline_in_jupyter()
        return drawn

    def __getattr__(self, name: str) -> Any:
        from reglab.report.figures import FIGURES

        if name in FIGURES:
            return lambda lang=None: self.figure(name, lang)
        raise AttributeError(name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.names()))


def _settings(spec: dict[str, Any]) -> dict[str, Any]:
    """A resolved variant's settings as flat columns: optimizer -> its name, optimizer.lr -> its
    learning rate, dropout.rate, hidden as a tuple (hashable, for groupby)."""
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key in ("name", "description", "description_ja", "baseline", "sweep"):
            continue
        if isinstance(value, dict):
            if "name" in value:
                out[key] = value["name"]
            for inner, item in value.items():
                if inner != "name":
                    out[f"{key}.{inner}"] = tuple(item) if isinstance(item, list) else item
        else:
            out[key] = tuple(value) if isinstance(value, list) else value
    return out


def _dropout_places(study: dict[str, Any]) -> dict[str, dict[str, tuple[float, ...]]]:
    """variant -> its `dropout.rate` and `spatial_dropout.rate` as one rate per place (after each
    dense hidden layer, a CNN's flattened features first; each conv block), as the engine reads
    them (config.VariantSpec.dropout_rates, models.catalog.per_block). A stored study that no
    longer reads (an older version's) keeps the stored values."""
    from reglab.config import study_from_dict
    from reglab.errors import ConfigError
    from reglab.models.catalog import per_block

    try:
        variants = study_from_dict(study, "study.json").variants
    except (ConfigError, KeyError, TypeError, ValueError):
        return {}
    out: dict[str, dict[str, tuple[float, ...]]] = {}
    for variant in variants:
        places: dict[str, tuple[float, ...]] = {}
        if variant.switch("dropout") is not None:
            places["dropout.rate"] = tuple(variant.dropout_rates())
        spatial = variant.switch("spatial_dropout")
        if spatial is not None:
            places["spatial_dropout.rate"] = per_block(spatial["rate"], len(variant.model_param("conv")))
        out[variant.name] = places
    return out


def _lang(lang: str | None) -> str:
    from reglab.errors import ReglabError
    from reglab.report.i18n import LANGS, default_lang

    lang = lang or default_lang()
    if lang not in LANGS:
        raise ReglabError(f"lang {lang!r} is not known: use one of {', '.join(LANGS)}.")
    return lang


def _show_inline_in_jupyter() -> None:
    """A Figure made without pyplot shows inline once IPython has a PNG formatter for Figures,
    which matplotlib's inline backend installs only when pyplot loads it: install it here."""
    import sys

    if "ipykernel" not in sys.modules:
        return
    from IPython import get_ipython
    from IPython.core.pylabtools import select_figure_formats

    shell = get_ipython()
    if shell is not None:
        select_figure_formats(shell, {"png"})
