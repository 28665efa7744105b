"""reglab: what regularization and optimization really do to a neural network.

    import reglab
    result = reglab.run("tutorial", seeds=3, dataset="digits")
    result.summary()                  # a pandas DataFrame, one row per variant
    result.history("l2", seed=0)      # Keras's History.history
    result.plot.learning_curves()
    result.report(lang="ja")

See docs/python-api.md. Importing reglab is light: torch loads only when a study trains.
"""

from __future__ import annotations

from typing import Any

from reglab.errors import ConfigError, ReglabError, UnknownName

__version__ = "0.1.0"

# Public name -> the module that defines it, imported on first use (module __getattr__, PEP 562).
_LAZY = {
    "run": "reglab.api", "resume": "reglab.api", "load": "reglab.api", "studies": "reglab.api",
    "lr_find": "reglab.api",
    # The package reglab.techniques: calling it lists them (see its __init__); a function of that
    # name here would be replaced by the package as soon as anything imports it.
    "techniques": None, "Study": "reglab.config.python_study", "Variant": "reglab.config.python_study",
    "StudyResult": "reglab.results", "Report": "reglab.results", "StudyInterrupted": "reglab.lab",
}

__all__ = ["ConfigError", "ReglabError", "UnknownName", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module 'reglab' has no attribute {name!r}")
    module = _LAZY[name]
    value = importlib.import_module(f"reglab.{name}") if module is None else getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
