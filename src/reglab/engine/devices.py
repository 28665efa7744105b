"""The device a study trains on, from --device (auto, cpu, cuda): engine/study.py and the scheduler's
workers resolve it alike, and lr-find too."""

from __future__ import annotations

import torch

from reglab.errors import ReglabError


def resolve_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ReglabError("--device cuda was asked for, but this machine has no CUDA GPU that PyTorch can use "
                          f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}). "
                          "Fix: use --device cpu, or --device auto to take a GPU only when there is one.")
    if requested not in ("cpu", "cuda"):
        raise ReglabError(f"--device {requested!r} is not known: use auto, cpu or cuda.")
    return torch.device(requested)
