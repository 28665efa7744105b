"""The reference training loop: one run at a time, a plain nn.Module and torch.optim.

Whole splits live on the device as tensors; an epoch is a permutation and slices of it (no
DataLoader). Losses and accuracies accumulate on the device and are read once per epoch.
This loop is the oracle: any faster engine must produce the same records.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import torch
import torch.nn.functional as F

from reglab import models
from reglab.config import VariantSpec
from reglab.engine.checkpoint import RESTORE_ERRORS, Checkpointer, check_progress
# DeviceData, RunOutcome, Techniques and evaluate are imported from here by older code: kept importable.
from reglab.engine.core import (  # noqa: F401
    DeviceData, RunOutcome, Techniques, batch_bounds, evaluate, set_lr, tested_outcome,
)
from reglab.engine.seeding import generator
from reglab.engine.sketch import weight_sketch
from reglab.store.records import COMPLETED, DIVERGED, EpochRecord
from reglab.techniques import registry
from reglab.techniques.hooks import Weights

EpochCallback = Callable[[EpochRecord], None]


def train_run(
    data: DeviceData, variant: VariantSpec, seed: int, *, on_epoch: EpochCallback | None = None,
    checkpoint: Checkpointer | None = None,
) -> RunOutcome:
    device = data.x_train.device
    started = time.perf_counter()
    model = models.build(variant, data.image_shape, data.classes, generator(seed, "init")).to(device)
    tech = Techniques(variant, variant.optimizer["lr"], image_shape=data.image_shape, classes=data.classes,
                      seed=seed, device=device)
    streams = {
        # Data order is drawn on the CPU so it is the same permutation on every device.
        "data_order": generator(seed, "data_order"),
        "dropout": generator(seed, "dropout", device),
        **tech.streams,  # the techniques' own (augmentation's)
    }
    model.set_dropout_generator(streams["dropout"])
    optimizer = registry.lookup("optimizer", variant.optimizer.name).build(
        dict(variant.optimizer.params), model.parameters())
    # The same tensors for the whole run: the optimizer and the constraints change them in place.
    weights = Weights(model.regularized_kernels(), list(model.parameters()))
    ctx, best_state = tech.context, None

    history: list[EpochRecord] = []
    sketches: list[np.ndarray] = []  # the hidden kernels' count sketch at each epoch's end
    n = data.x_train.shape[0]
    step, first_epoch, earlier_seconds = 0, 0, 0.0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        try:
            first_epoch, step, earlier_seconds = check_progress(saved, variant.epochs), saved["step"], saved["seconds"]
            history = [EpochRecord(**e) for e in saved["history"]]
            sketches = list(saved["sketches"].numpy())
            if len(sketches) != len(history):
                raise ValueError("a checkpoint whose sketches do not match its history")
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            for name, stream in streams.items():
                stream.set_state(saved["generators"][name])
            tech.load_state_dict(saved["techniques"])
            best_state = saved["best_state"]
        except RESTORE_ERRORS:  # not this run's (another architecture): it starts over, from fresh state
            checkpoint.discard()
            return train_run(data, variant, seed, on_epoch=on_epoch, checkpoint=checkpoint)

    status, diverged_at, stopped_epoch = COMPLETED, None, None
    for epoch in range(first_epoch, variant.epochs):
        epoch_started = time.perf_counter()
        lr = tech.schedule(step if tech.per_step_schedule else epoch)
        lr_at_start = lr
        set_lr(optimizer, lr)
        model.train()
        loss_sum = torch.zeros((), device=device)
        penalty_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        order = torch.randperm(n, generator=streams["data_order"]).to(device)
        ctx.epoch = epoch
        for start, stop in batch_bounds(n, variant):
            batch = order[start:stop]
            if tech.per_step_schedule:
                lr = tech.schedule(step)
                set_lr(optimizer, lr)
            ctx.lr, ctx.step = lr, step

            def compute():
                """The gradient pass: the batch, the objective's gradient, the gradient hooks."""
                x, y = tech.transform_batch(*data.training_batch(batch))
                logits = model(x)
                # Recorded losses are plain cross-entropy, comparable across variants; the gradient
                # follows the variant's objective (label smoothing, penalties).
                data_loss = F.cross_entropy(logits, y)
                loss = tech.objective(logits, y)
                optimizer.zero_grad(set_to_none=True)
                (data_loss if loss is None else loss).backward()
                with torch.no_grad():
                    added = tech.gradients(weights)  # the objective's penalties, by formula
                return logits, y, data_loss, added

            logits, y, data_loss, added = tech.step_gradients(compute, weights)
            with torch.no_grad():
                if added is not None:
                    penalty_sum += added * len(batch)
                tech.before_step(weights)
                optimizer.step()
                tech.after_step(weights)
            loss_sum += data_loss.detach() * len(batch)
            correct += (logits.argmax(1) == _hard(y)).sum()
            step += 1
        with tech.evaluating(model, data.x_train):  # weight averaging evaluates its average
            val_loss, val_accuracy, _ = evaluate(model, data.x_val, data.y_val)
            train_eval_loss = evaluate(model, *data.train_eval_rows())[0] if tech.batch_statistics else None
        with torch.no_grad():
            end_penalty = tech.penalty(weights)
            weight_norm = torch.sqrt(sum(k.square().sum() for k in model.regularized_kernels())).item()
            sketches.append(weight_sketch(model.regularized_kernels()).cpu().numpy())
        # .item() syncs with the GPU: once per epoch, not per step.
        record = EpochRecord(
            epoch=epoch,
            train_loss=loss_sum.item() / n,
            train_accuracy=correct.item() / n,
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            lr=lr_at_start,
            seconds=time.perf_counter() - epoch_started,
            train_penalty=penalty_sum.item() / n,
            penalty=end_penalty,
            train_eval_loss=train_eval_loss,
            weight_norm=weight_norm,
            **tech.epoch_fields(),
        )
        history.append(record)
        verdict, keep_weights = tech.end_of_epoch(record)
        if keep_weights:
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if verdict is not None:
            if verdict == DIVERGED:
                status, diverged_at = DIVERGED, epoch
            else:
                stopped_epoch = epoch
            _notify(on_epoch, record)
            break
        if checkpoint is not None:
            checkpoint.maybe_save(lambda: {
                "epoch": epoch + 1, "step": step, "history": [asdict(e) for e in history],
                "sketches": torch.from_numpy(np.stack(sketches)),
                "seconds": earlier_seconds + time.perf_counter() - started,
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "generators": {name: stream.get_state() for name, stream in streams.items()},
                "techniques": tech.state_dict(), "best_state": best_state,
            })
        _notify(on_epoch, record)  # may raise to stop the study: after the checkpoint, never before
    if best_state is not None and status == COMPLETED:
        model.load_state_dict(best_state)
    elif status == COMPLETED:
        tech.final_weights(model, data.x_train)

    return tested_outcome(
        model, data, variant=variant, seed=seed, status=status, history=history,
        seconds=earlier_seconds + time.perf_counter() - started, engine="reference", diverged_at=diverged_at,
        stopped_epoch=stopped_epoch, sketches=sketches, run_fields=tech.run_fields(),
    )


def _hard(y: torch.Tensor) -> torch.Tensor:
    """Class labels of a batch's targets: soft targets [B, K] (mixup) count their largest class."""
    return y if y.dim() == 1 else y.argmax(1)


def _notify(on_epoch: EpochCallback | None, record: EpochRecord) -> None:
    if on_epoch is not None:
        on_epoch(record)


