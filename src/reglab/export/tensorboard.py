"""`--to tensorboard DIR`: one TensorBoard run per reglab run, DIR/NN-variant/seed-S, so that the run
selector groups seeds under their variant.

Each run holds, per epoch (the step): loss/train, loss/validation, accuracy/train,
accuracy/validation, learning_rate (and penalty/train, penalty/validation when the variant has an L1
or L2 term); at the last epoch: test/loss, test/accuracy and a histogram of every final weight
(weights/NAME); and the variant's settings and seed for the HParams dashboard.

Written with the `tensorboard` package's own event writer and protocol buffers (the reglab[tensorboard]
extra), not torch.utils.tensorboard or tensorboardX: both import torch, which exporting must not need.
Exporting again replaces a run's event files instead of adding a second set that TensorBoard would
merge into duplicate points.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from reglab.export.source import ExportRun, ExportSource

SCALARS = {  # tag: the EpochRecord field
    "loss/train": "train_loss", "loss/validation": "val_loss",
    "accuracy/train": "train_accuracy", "accuracy/validation": "val_accuracy",
    "learning_rate": "lr",
}
PENALTIES = {"penalty/train": "train_penalty", "penalty/validation": "penalty"}
HISTOGRAM_BINS = 30
EVENT_FILE_PREFIX = "events.out.tfevents."


def write_tensorboard(source: ExportSource, out: Path) -> Path:
    created = source.created
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    out.mkdir(parents=True, exist_ok=True)
    for run in source.runs:
        folder = out / run.folder / f"seed-{run.record.seed}"
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(EVENT_FILE_PREFIX + "*"):
            old.unlink()
        writer = EventFileWriter(str(folder), filename_suffix=".reglab")
        try:
            for event in _events(run, created):
                writer.add_event(event)
        finally:
            writer.close()
    return out


def _events(run: ExportRun, created: float):
    from tensorboard.compat.proto import event_pb2, summary_pb2

    # Each epoch at the time it ended (ExportRun.epoch_times): TensorBoard's relative and wall
    # axes show how long training took, instead of collapsing every point onto the export's time.
    times = run.epoch_times(created)
    started = (times[0] - (run.record.history[0].seconds or 0.0)) if times else created
    finished = times[-1] if times else created

    def event(step: int, values, wall: float) -> event_pb2.Event:
        return event_pb2.Event(wall_time=wall, step=step, summary=summary_pb2.Summary(value=values))

    record = run.record
    with_penalty = any(e.train_penalty or e.penalty for e in record.history)
    tags = SCALARS | (PENALTIES if with_penalty else {})
    for e, wall in zip(record.history, times):
        yield event(e.epoch, [summary_pb2.Summary.Value(tag=tag, simple_value=getattr(e, key))
                              for tag, key in tags.items()], wall)
    last = record.history[-1].epoch if record.history else 0
    finals = [summary_pb2.Summary.Value(tag=f"test/{key}", simple_value=value)
              for key, value in (("loss", record.test_loss), ("accuracy", record.test_accuracy)) if value is not None]
    finals += [summary_pb2.Summary.Value(tag=f"weights/{name}", histo=_histogram(values))
               for name, values in run.weights().items() if values.size]
    if finals:
        yield event(last, finals, finished)
    for summary in _hparams(run):
        yield event_pb2.Event(wall_time=started, step=0, summary=summary)


def _histogram(values: np.ndarray):
    from tensorboard.compat.proto import summary_pb2

    flat = values.astype(np.float64).ravel()
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return summary_pb2.HistogramProto()
    counts, edges = np.histogram(flat, bins=HISTOGRAM_BINS)
    return summary_pb2.HistogramProto(min=float(flat.min()), max=float(flat.max()), num=float(flat.size),
                                      sum=float(flat.sum()), sum_squares=float(np.dot(flat, flat)),
                                      bucket_limit=[float(e) for e in edges[1:]], bucket=[float(c) for c in counts])


def _hparams(run: ExportRun):
    """The HParams plugin's three summaries: the experiment (which hyperparameters and metrics
    exist), the session's values, and its end (as torch.utils.tensorboard writes them)."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    start = plugin_data_pb2.SessionStartInfo(group_name=run.folder)
    infos = []
    for key, value in sorted(run.params.items()):
        if isinstance(value, bool):
            start.hparams[key].bool_value = value
            kind = "DATA_TYPE_BOOL"
        elif isinstance(value, (int, float)) and math.isfinite(value):
            start.hparams[key].number_value = value
            kind = "DATA_TYPE_FLOAT64"
        else:
            start.hparams[key].string_value = str(value)
            kind = "DATA_TYPE_STRING"
        infos.append(api_pb2.HParamInfo(name=key, type=api_pb2.DataType.Value(kind)))
    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag))
               for tag in ("test/accuracy", "test/loss", "loss/validation", "accuracy/validation")]
    experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics)
    status = "STATUS_SUCCESS" if run.record.status == "completed" else "STATUS_FAILURE"
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.Status.Value(status))

    def summary(tag: str, **data) -> summary_pb2.Summary:
        content = plugin_data_pb2.HParamsPluginData(version=metadata.PLUGIN_DATA_VERSION, **data)
        plugin = summary_pb2.SummaryMetadata.PluginData(plugin_name=metadata.PLUGIN_NAME,
                                                         content=content.SerializeToString())
        return summary_pb2.Summary(value=[summary_pb2.Summary.Value(
            tag=tag, metadata=summary_pb2.SummaryMetadata(plugin_data=plugin))])

    yield summary(metadata.EXPERIMENT_TAG, experiment=experiment)
    yield summary(metadata.SESSION_START_INFO_TAG, session_start_info=start)
    yield summary(metadata.SESSION_END_INFO_TAG, session_end_info=end)
