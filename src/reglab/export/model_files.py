"""A trained network as files that need no reglab (docs/models.md):

    FOLDER/model.json           what the network is: its layers as torch.nn classes and arguments,
                                the preprocessing its inputs need, the class names, where it came from
    FOLDER/model.safetensors    its state_dict, keyed as the nn.Sequential of those layers
    FOLDER/model.onnx           with onnx=True: the same network for ONNX runtimes (input
                                "features", float32 rows; output "logits"), checked with onnxruntime

Each file is written whole or not at all. safetensors (reglab[safetensors]) and the ONNX exporter's
packages (reglab[onnx]) are optional: a clear error says which to install. torch loads lazily.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reglab import __version__
from reglab.errors import ReglabError
from reglab.store.atomic import write_atomic

if TYPE_CHECKING:
    import numpy as np
    import torch

    from reglab.results import StudyResult

FORMAT = "reglab-model/1"
ONNX_TOLERANCE = 1e-5  # largest difference allowed between onnxruntime's logits and PyTorch's
_NEEDS = {"safetensors": ("safetensors", "reglab[safetensors]"), "onnx": ("onnx", "reglab[onnx]"),
          "onnxscript": ("onnxscript", "reglab[onnx]"), "onnxruntime": ("onnxruntime", "reglab[onnx]")}


def require(*modules: str) -> None:
    for module in modules:
        name, extra = _NEEDS[module]
        if importlib.util.find_spec(name) is None:
            raise ReglabError(f"exporting a model this way needs the {name} package, which is not installed. "
                              f"Fix: pip install '{extra}'")


def save_model(result: StudyResult, variant: str, folder: Path | str, seed: int = 0, *, onnx: bool = False) -> Path:
    """Write one run's network into `folder` (made if needed); returns model.json's path."""
    require("safetensors", *(("onnx", "onnxscript", "onnxruntime") if onnx else ()))
    from safetensors.torch import save as safetensors_bytes

    from reglab.models.portable import portable

    folder = Path(folder)
    model = result.model(variant, seed)
    prep = result.preprocessing
    layers, plain, state = portable(model, prep.n_features)
    weights = safetensors_bytes(state, metadata={"format": FORMAT})
    files: dict[str, Any] = {"state_dict": "model.safetensors", "state_dict_sha256": hashlib.sha256(weights).hexdigest()}
    onnx_bytes = None
    if onnx:
        onnx_bytes, difference = _onnx(plain, prep.n_features, _check_inputs(result, prep))
        files |= {"onnx": "model.onnx", "onnx_sha256": hashlib.sha256(onnx_bytes).hexdigest(),
                  "onnx_max_abs_difference": difference}
    record = result.run(variant, seed)
    description = {
        "format": FORMAT,
        "input": {"name": "features", "dtype": "float32", "shape": [None, prep.n_features],
                  "preprocessing": prep.to_json(), "preprocessing_text": prep.describe()},
        "output": {"name": "logits", "shape": [None, len(result.class_names)],
                   "text": "one logit per class; softmax gives the probabilities"},
        "class_names": result.class_names,
        "layers": layers,
        "files": files,
        "source": {"run_dir": str(result.run_dir), "study": result.name, "variant": variant, "seed": seed,
                   "dataset": result.dataset, "test_accuracy": record.test_accuracy, "reglab": __version__},
    }
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "model.safetensors", lambda handle: handle.write(weights))
    if onnx_bytes is not None:
        write_atomic(folder / "model.onnx", lambda handle: handle.write(onnx_bytes))
    text = json.dumps(description, indent=2, ensure_ascii=False) + "\n"
    write_atomic(folder / "model.json", lambda handle: handle.write(text.encode("utf-8")))  # last: the rest is whole
    return folder / "model.json"


def _check_inputs(result: StudyResult, prep: Any) -> np.ndarray | None:
    """Real inputs to compare ONNX with PyTorch on: the stored test split's features (None when unreadable)."""
    try:
        return prep.transform(result.test_inputs)[:512]
    except ReglabError:
        return None


def _onnx(plain: torch.nn.Module, features: int, inputs: np.ndarray | None) -> tuple[bytes, float]:
    """The ONNX file of `plain` (a batch of any size), and its largest difference from PyTorch's
    logits on `inputs` (or random features), checked with onnxruntime."""
    import numpy as np
    import onnxruntime
    import torch

    example = torch.rand(4, features, generator=torch.Generator().manual_seed(0))
    target = io.BytesIO()
    # The exporter prints its progress and warns about packages it could use (torchvision): not ours to show.
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(plain, (example,), dynamo=True, external_data=False, verbose=False,
                                        input_names=["features"], output_names=["logits"],
                                        dynamic_shapes=({0: torch.export.Dim("batch")},))
            program.save(target)
    finally:
        quiet.setLevel(level)
    data = target.getvalue()
    check = inputs if inputs is not None and len(inputs) else example.numpy()
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    ours = session.run(["logits"], {"features": np.ascontiguousarray(check, dtype=np.float32)})[0]
    with torch.no_grad():
        reference = plain(torch.from_numpy(np.ascontiguousarray(check, dtype=np.float32))).numpy()
    difference = float(np.max(np.abs(ours - reference)))
    if not difference <= ONNX_TOLERANCE:
        raise ReglabError(f"the ONNX export computes logits up to {difference:.2g} away from PyTorch's (allowed: "
                          f"{ONNX_TOLERANCE:g}), so it is not written. Fix: export --to model (safetensors) instead, "
                          "and report it.")
    return data, difference


def chosen_runs(result: StudyResult, variants: list[str] | None, seeds: list[int] | None,
                say: Callable[[str], None] = lambda line: None) -> list[tuple[str, int]]:
    """(variant, seed) of each finished run that `reglab export --to model|onnx` writes. A variant
    or seed named but not finished is an error (with the fix); of a whole study, what has not
    finished is left out and said."""
    chosen = []
    for variant in variants or result.variants:
        finished = [r.seed for r in result.runs if r.variant == variant and r.status == "completed"
                    and (seeds is None or r.seed in seeds)]
        if not finished and variants is None and seeds is None:
            say(f"left out: {variant!r} has no finished run")
            continue
        if seeds is not None:
            for seed in seeds:
                result.stored_run(variant, seed)  # a seed with no finished run: the error, with its fix
        elif not finished:
            result.models(variant, "all")  # a named variant with no finished run: the error, with its fix
        chosen += [(variant, seed) for seed in finished]
    return chosen


def export_models(result: StudyResult, folder: Path, runs: list[tuple[str, int]], *, onnx: bool = False) -> list[Path]:
    """Each chosen run's network into DIR/NN-variant-seed-S/ (NN-variant: its folder in the run directory)."""
    written = []
    for variant, seed in runs:
        where = folder / f"{result.stored_run(variant, seed).path.parent.name}-seed-{seed}"
        written.append(save_model(result, variant, where, seed, onnx=onnx))
    return written
