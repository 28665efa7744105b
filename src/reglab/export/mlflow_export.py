"""`--to mlflow`: an MLflow experiment per study, and in it one parent run per run directory (the
study's report as its artifacts) with a child run per reglab run: the variant's settings and the
seed as params, every epoch's metrics (step = epoch), the test metrics, the variant and seed as tags.

The tracking store is SQLite by default: FOLDER/mlflow.db when a folder is given, else ./mlflow.db;
artifacts go beside it (mlartifacts/). `mlflow ui --backend-store-uri sqlite:///mlflow.db` shows it.
Runs are found again by their tags (the run directory, variant and seed), so exporting again skips
what is there and adds only runs that finished since.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

from reglab.errors import ReglabError
from reglab.export.source import ExportRun, ExportSource

METRICS = {"train_loss": "train_loss", "train_accuracy": "train_accuracy", "val_loss": "val_loss",
           "val_accuracy": "val_accuracy", "lr": "lr", "train_penalty": "train_penalty", "penalty": "penalty"}
TAG_RUN_DIR, TAG_VARIANT, TAG_SEED, TAG_KIND = "reglab.run_dir", "reglab.variant", "reglab.seed", "reglab.kind"
REPORT_FILES = ("report.html", "findings.json")
MAX_PARAM_LENGTH = 6000  # MLflow's limit on a param's value


def default_uri(folder: Path | None) -> tuple[str, Path]:
    """(tracking URI, artifact folder) of the default SQLite store."""
    base = (folder or Path.cwd()).resolve()
    return f"sqlite:///{base / 'mlflow.db'}", base / "mlartifacts"


def write_mlflow(source: ExportSource, *, tracking_uri: str | None, folder: Path | None) -> str:
    # MLflow logs its database migrations at INFO and warns about its own defaults: not ours to show.
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    artifacts: Path | None = None
    if tracking_uri is None:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        tracking_uri, artifacts = default_uri(folder)
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        experiment = client.get_experiment_by_name(source.study_name)
        if experiment is None:
            experiment_id = client.create_experiment(
                source.study_name, artifact_location=artifacts.as_uri() if artifacts else None,
                tags={"reglab.description": str(source.study.get("description", ""))[:5000]})
        else:
            experiment_id = experiment.experiment_id
        run_dir = str(source.root.resolve())
        parent = _find(client, experiment_id, {TAG_RUN_DIR: run_dir, TAG_KIND: "study"})
        if parent is None:
            parent = client.create_run(experiment_id, run_name=source.root.name, tags={
                TAG_RUN_DIR: run_dir, TAG_KIND: "study", "reglab.created": str(source.manifest.get("created", ""))})
            client.log_batch(parent.info.run_id, params=[
                Param("seeds", ",".join(str(s) for s in source.study.get("seeds", []))),
                Param("dataset", str(source.study.get("data", {}).get("dataset", "")))])
        parent_id = parent.info.run_id
        existing = {(r.data.tags.get(TAG_VARIANT), r.data.tags.get(TAG_SEED))
                    for r in _search(client, experiment_id, {TAG_RUN_DIR: run_dir, TAG_KIND: "run"})}
        for run in source.runs:
            if (run.record.variant, str(run.record.seed)) in existing:
                continue
            _log_run(client, experiment_id, parent_id, run_dir, run, Metric, Param, RunTag, source.created)
        report = source.root / "report"
        for name in REPORT_FILES:
            if (report / name).is_file():
                client.log_artifact(parent_id, str(report / name), artifact_path="report")
        figures = sorted(report.glob("*.png")) if report.is_dir() else []
        for png in figures:
            client.log_artifact(parent_id, str(png), artifact_path="report")
        finished = not any("not finished" in p for p in source.problems)
        client.set_terminated(parent_id, status="FINISHED" if finished else "RUNNING")
    except MlflowException as exc:
        raise ReglabError(f"MLflow refused the export to {tracking_uri}: {exc.message.strip().rstrip('.')}. Fix: check "
                          "--tracking-uri (e.g. sqlite:///mlflow.db or http://host:5000).") from None
    except Exception as exc:  # the database's own errors: a file that is not an SQLite database, no access
        if type(exc).__module__.split(".")[0] not in ("sqlalchemy", "sqlite3", "alembic"):
            raise
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise ReglabError(f"the MLflow tracking store {tracking_uri} cannot be used: {reason}. Fix: give "
                          "--tracking-uri sqlite:///PATH with PATH a new file or an MLflow database you can "
                          "write (or leave --tracking-uri out: mlflow.db in the current folder).") from None
    return tracking_uri


def _log_run(client, experiment_id: str, parent_id: str, run_dir: str, run: ExportRun, Metric, Param, RunTag,
             created: float) -> None:
    record = run.record
    created = client.create_run(experiment_id, run_name=run.name, tags={
        TAG_RUN_DIR: run_dir, TAG_KIND: "run", TAG_VARIANT: record.variant, TAG_SEED: str(record.seed),
        "mlflow.parentRunId": parent_id, "reglab.status": record.status, "reglab.engine": record.engine})
    run_id = created.info.run_id
    params = [Param(key, str(value)[:MAX_PARAM_LENGTH]) for key, value in sorted(run.params.items())]
    # Each epoch's metrics at the time it ended (ExportRun.epoch_times), in milliseconds.
    times = [int(t * 1000) for t in run.epoch_times(created)]
    now = times[-1] if times else int(time.time() * 1000)
    metrics = []
    for e, stamp in zip(record.history, times):
        for key, field in METRICS.items():
            metrics.append(Metric(key, float(getattr(e, field)), stamp, e.epoch))
    last = record.history[-1].epoch if record.history else 0
    for key, value in (("test_loss", record.test_loss), ("test_accuracy", record.test_accuracy)):
        if value is not None and math.isfinite(value):
            metrics.append(Metric(key, float(value), now, last))
    # log_batch takes at most 1000 metrics and 100 params a call.
    for start in range(0, max(len(params), 1), 100):
        client.log_batch(run_id, params=params[start:start + 100])
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start:start + 1000])
    client.set_terminated(run_id, status="FINISHED" if record.status == "completed" else "FAILED")


def _search(client, experiment_id: str, tags: dict[str, str]):
    query = " and ".join(f"tags.`{k}` = '{_quote(v)}'" for k, v in tags.items())
    found, token = [], None
    while True:
        page = client.search_runs([experiment_id], filter_string=query, max_results=1000, page_token=token)
        found += list(page)
        token = page.token
        if not token:
            return found


def _find(client, experiment_id: str, tags: dict[str, str]):
    found = _search(client, experiment_id, tags)
    return found[0] if found else None


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
