"""Speed of the built-in `recurrent` study in reglab against a plain PyTorch loop, in one invocation.

    python benchmarks/bench_recurrent.py                 # CPU, digits (8 steps of 8 pixels), 5 epochs
    python benchmarks/bench_recurrent.py --fashion       # Fashion-MNIST (28 steps of 28) from ../shared/data
    python benchmarks/bench_recurrent.py --device cuda   # on a GPU

The baseline is what a reader writes in PyTorch for the study's LSTMs, one after another:
torch.nn.LSTM (the fused kernel) with nn.Dropout on its output where the variant has dropout, and,
for the variants that drop the recurrent state (which nn.LSTM cannot), an nn.LSTMCell loop that
multiplies h(t-1) by a mask drawn once per batch (variational) or at every step (naive),
torch.nn.utils.clip_grad_norm_ for the clipping variant;
torch.optim.Adam (Keras's epsilon), the whole split in memory, a permutation per epoch,
validation at every epoch end, the test set at the end. reglab trains the study with its
reference engine (the fast engine has no stacked recurrent form). Each configuration runs in
its own process; they alternate over --repeat rounds; the best time of each is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
FASHION = Path(os.environ.get("REGLAB_BENCH_FASHION", ROOT.parent / "shared" / "data" / "fashion-mnist"))
CONFIGS = ("plain", "reference")


class PlainLSTM(nn.Module):
    def __init__(self, steps: int, features: int, units: int, classes: int, dropout: float, recurrent: float,
                 per_sequence: bool):
        super().__init__()
        self.steps, self.features, self.units = steps, features, units
        self.recurrent, self.per_sequence = recurrent, per_sequence
        self.lstm = nn.LSTMCell(features, units) if recurrent else nn.LSTM(features, units, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(units, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.shape[0], self.steps, self.features)
        if not self.recurrent:
            return self.head(self.dropout(self.lstm(x)[0][:, -1]))
        h = c = x.new_zeros(x.shape[0], self.units)
        keep = 1 - self.recurrent
        mask = torch.bernoulli(torch.full_like(h, keep)) / keep if self.training else None
        for t in range(self.steps):
            if self.training and not self.per_sequence:
                mask = torch.bernoulli(torch.full_like(h, keep)) / keep
            h, c = self.lstm(x[:, t], (h if mask is None else h * mask, c))
        return self.head(self.dropout(h))


def load_data(device: str, fashion: bool):
    from reglab.data import load_dataset, make_splits
    from reglab.engine.core import DeviceData

    dataset, name = (load_dataset("fashion-mnist", data_dir=FASHION), "fashion-mnist") if fashion \
        else (load_dataset("digits"), "digits")
    splits = make_splits(dataset, train=10000, validation=2000, test=10000)
    return DeviceData.from_arrays(splits, device), name


def plain_loop(data, study) -> None:
    steps, features = data.image_shape
    for variant in study.variants:
        torch.manual_seed(0)
        recurrent = variant.switch("recurrent_dropout") or variant.switch("naive_recurrent_dropout")
        model = PlainLSTM(steps, features, variant.hidden[0], data.classes, variant.dropout_rates()[0],
                          recurrent["rate"] if recurrent else 0.0,
                          recurrent is not None and recurrent.name == "recurrent_dropout").to(data.x_train.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        clip = variant.switch("gradient_clipping")
        n = data.x_train.shape[0]
        for _ in range(variant.epochs):
            model.train()
            for batch in torch.randperm(n, device=data.x_train.device).split(variant.batch_size):
                loss = F.cross_entropy(model(data.x_train[batch]), data.y_train[batch])
                optimizer.zero_grad()
                loss.backward()
                if clip is not None:  # Keras's global_clipnorm
                    torch.nn.utils.clip_grad_norm_(model.parameters(), clip["limit"])
                optimizer.step()
            model.eval()
            with torch.no_grad():
                F.cross_entropy(model(data.x_val), data.y_val).item()  # validation, as Keras's fit does
        with torch.no_grad():
            (model(data.x_test).argmax(1) == data.y_test).float().mean().item()


def measure_one(config: str, device: str, epochs: int, fashion: bool) -> dict:
    """Runs in a child process: train the `recurrent` study one way, report its seconds."""
    from reglab.config import load_study
    from reglab.engine.scheduler import execute, plan
    from reglab.progress.events import Silent
    from reglab.store.memory import MemoryStore

    data, name = load_data(device, fashion)
    import torch._dynamo  # noqa: F401  (torch.optim imports it on its first step: start-up, off the clock)

    study = load_study("recurrent", {"seeds": [0], "epochs": epochs})
    started = time.perf_counter()
    if config == "plain":
        plain_loop(data, study)
    else:
        schedule = plan(study, config, torch.device(device), input_dim=data.input_dim, image_shape=data.image_shape)
        execute(schedule, data, MemoryStore(), Silent())
    if device == "cuda":
        torch.cuda.synchronize()
    return {"config": config, "seconds": time.perf_counter() - started, "dataset": name, "runs": len(study.variants)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per model (the study's own: 60)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of both configurations; the best is kept")
    parser.add_argument("--fashion", action="store_true", help="Fashion-MNIST, 28 steps of 28 pixels")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.device, args.epochs, args.fashion)))
        return
    print(f"bench_recurrent: the `recurrent` study (its LSTMs, 1 seed, {args.epochs} epochs each) on {args.device}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    best: dict[str, dict] = {}
    for _ in range(args.repeat):
        for config in CONFIGS:
            out = subprocess.run([sys.executable, __file__, "--one", config, "--device", args.device,
                                  "--epochs", str(args.epochs)] + (["--fashion"] if args.fashion else []),
                                 capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            if config not in best or result["seconds"] < best[config]["seconds"]:
                best[config] = result
    baseline = best["plain"]["seconds"]
    print(f"data: {best['plain']['dataset']}")
    for config in CONFIGS:
        seconds = best[config]["seconds"]
        label = "plain PyTorch loop" if config == "plain" else f"reglab --engine {config}"
        print(f"  {label:<24} {seconds:7.2f} s   {baseline / seconds:5.2f}x the plain loop's speed")


if __name__ == "__main__":
    main()
