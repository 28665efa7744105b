"""Speed of the built-in `cnn` study in reglab against a plain PyTorch loop, in one invocation.

    python benchmarks/bench_cnn.py                  # CPU, Fashion-MNIST (digits when it is absent)
    python benchmarks/bench_cnn.py --epochs 2       # shorter
    python benchmarks/bench_cnn.py --device cuda    # on a GPU
    python benchmarks/bench_cnn.py --digits         # the embedded 8x8 digits (seconds, not minutes)

Fashion-MNIST is read from ../shared/data/fashion-mnist, or from $REGLAB_BENCH_FASHION.

The baseline is what a reader of the tutorial writes in PyTorch for the same five models, one
after another: nn.Sequential (Conv2d, MaxPool2d, BatchNorm2d, Dropout, Linear), torch.optim.Adam,
the whole split in memory, a permutation per epoch, validation at every epoch end, the test set at
the end. Its augmentation is the same batched affine warp reglab uses (a per-image loop would only
make the baseline slower). reglab trains the study with --engine reference, auto and fast. Each
configuration runs in its own process, they alternate over --repeat rounds, the best time of each
is kept, and the ratios are against the baseline of this invocation.
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
CONFIGS = ("plain", "reference", "auto", "fast")


def load_data(device: str, digits: bool = False):
    from reglab.data import load_dataset, make_splits
    from reglab.engine.core import DeviceData

    if FASHION.is_dir() and not digits:
        dataset, name = load_dataset("fashion-mnist", data_dir=FASHION), "fashion-mnist"
    else:
        dataset, name = load_dataset("digits"), "digits"
    splits = make_splits(dataset, train=10000, validation=2000, test=10000)
    return DeviceData.from_arrays(splits, device), name


def plain_model(variant, image_shape, classes) -> nn.Sequential:
    """The variant as a reader writes it with torch.nn (Keras's convnet, or the MLP)."""
    norm = variant.switch("batch_norm")
    layers: list[nn.Module] = []
    if variant.model == "cnn":
        channels, (h, w) = 1, image_shape
        layers.append(nn.Unflatten(1, (1, h, w)))
        for block in (dict(b) for b in variant.model_param("conv")):
            layers.append(nn.Conv2d(channels, block["filters"], block["kernel_size"], padding=block["padding"]))
            layers += [nn.BatchNorm2d(block["filters"], momentum=0.01, eps=1e-3)] if norm else []
            layers += [nn.ReLU(), nn.MaxPool2d(block["pool"])]
            channels, h, w = block["filters"], h // block["pool"], w // block["pool"]
        layers += [nn.Flatten(), nn.Dropout(variant.dropout_rates()[0])]
        width = channels * h * w
    else:
        width = image_shape[0] * image_shape[1]
        for size in variant.hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
    model = nn.Sequential(*layers, nn.Linear(width, classes))
    for layer in model:
        if isinstance(layer, (nn.Linear, nn.Conv2d)):  # Glorot like Keras
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return model


def plain_loop(data, study) -> None:
    from reglab.techniques.augmentation import augment

    augmenter = torch.Generator(device=data.x_train.device).manual_seed(0)
    for variant in study.variants:
        torch.manual_seed(0)
        model = plain_model(variant, data.image_shape, data.classes).to(data.x_train.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        shift = variant.switch("augmentation")
        n = data.x_train.shape[0]
        for epoch in range(variant.epochs):
            if variant.schedule.name == "step":
                for group in optimizer.param_groups:
                    group["lr"] = 1e-3 if epoch < 5 else 5e-4 if epoch < 10 else 1e-4
            model.train()
            for batch in torch.randperm(n, device=data.x_train.device).split(variant.batch_size):
                x = data.x_train[batch]
                if shift:
                    x = augment(x, data.image_shape, dict(shift.params), augmenter)
                loss = F.cross_entropy(model(x), data.y_train[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            model.eval()
            with torch.no_grad():
                F.cross_entropy(model(data.x_val), data.y_val).item()  # validation, as Keras's fit does
        with torch.no_grad():
            (model(data.x_test).argmax(1) == data.y_test).float().mean().item()


def measure_one(config: str, device: str, epochs: int, digits: bool) -> dict:
    """Runs in a child process: train the `cnn` study one way, report its seconds."""
    from reglab.config import load_study
    from reglab.engine.scheduler import execute, plan
    from reglab.progress.events import Silent
    from reglab.store.memory import MemoryStore

    data, name = load_data(device, digits)
    import torch._dynamo  # noqa: F401  (torch.optim imports it on its first step: start-up, off the clock)

    study = load_study("cnn", {"seeds": [0], "epochs": epochs})
    started = time.perf_counter()
    if config == "plain":
        plain_loop(data, study)
    else:
        schedule = plan(study, config, torch.device(device), input_dim=data.input_dim, image_shape=data.image_shape)
        execute(schedule, data, MemoryStore(), Silent())
    if device == "cuda":
        torch.cuda.synchronize()
    return {"config": config, "seconds": time.perf_counter() - started, "dataset": name,
            "runs": len(study.variants)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per model (the study's own: 15)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of all configurations; the best is kept")
    parser.add_argument("--digits", action="store_true", help="train on the embedded 8x8 digits")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.device, args.epochs, args.digits)))
        return
    print(f"bench_cnn: the `cnn` study (5 models, 1 seed, {args.epochs} epochs each) on {args.device}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    best: dict[str, dict] = {}
    for _ in range(args.repeat):
        for config in CONFIGS:
            out = subprocess.run([sys.executable, __file__, "--one", config, "--device", args.device,
                                  "--epochs", str(args.epochs)] + (["--digits"] if args.digits else []),
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
