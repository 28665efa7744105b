"""The Python API's arguments, checked where they come in: a wrong type or value is a
reglab.ConfigError naming the argument, what it got and what it takes, as the command line's
parser says it for its flags; never a TypeError from deep inside (issue 24, fault 7).

Each check returns the value in the form the library uses (a Path for a path, a tuple of
observers). `where` names the call ("reglab.run") for the error's first line. Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from reglab.errors import ConfigError
from reglab.progress.events import EVENTS


def refuse(where: str, argument: str, value: Any, takes: str) -> ConfigError:
    return ConfigError(where, [f"{argument}: {takes}, got {_shown(value)}"], about="the arguments")


def path(where: str, argument: str, value: Any, *, optional: bool = False) -> Path | None:
    if value is None and optional:
        return None
    if isinstance(value, (str, Path)) and str(value) and "\x00" not in str(value):
        return Path(value)
    if hasattr(value, "__fspath__") and isinstance(value.__fspath__(), str):
        return Path(value)
    raise refuse(where, argument, value, "takes a path (a str or pathlib.Path)"
                 + (" or None" if optional else ""))


def text(where: str, argument: str, value: Any, *, optional: bool = False, choices: Iterable[str] = ()) -> str | None:
    choices = tuple(choices)
    if value is None and optional:
        return None
    if isinstance(value, str) and value and (not choices or value in choices):
        return value
    takes = f"takes one of {', '.join(map(repr, choices))}" if choices else "takes a non-empty string"
    raise refuse(where, argument, value, takes + (" or None" if optional else ""))


def flag(where: str, argument: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise refuse(where, argument, value, "takes True or False")


def whole(where: str, argument: str, value: Any, *, low: int = 0, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= low:
        return value
    raise refuse(where, argument, value, f"takes a whole number (int) of at least {low}"
                 + (" or None" if optional else ""))


def seconds(where: str, argument: str, value: Any) -> float | None:
    """None (never) or a number of seconds, 0 or more: the rule of the command line's --checkpoint-seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 and not math.isnan(value):
        return float(value)
    raise refuse(where, argument, value, "takes a number of seconds, 0 or more (or None for no checkpoints)")


def seeds(where: str, argument: str, value: Any, *, optional: bool = True) -> int | list[int] | None:
    if value is None and optional:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, (list, tuple, range)) and value and all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value):
        return list(value)
    raise refuse(where, argument, value, "takes a count of seeds (1 or more) or a non-empty list of seeds (ints >= 0)")


def table(where: str, argument: str, value: Any, *, optional: bool = True) -> dict[str, Any] | None:
    if value is None and optional:
        return None
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return dict(value)
    raise refuse(where, argument, value, "takes a dict of settings (as the TOML file's table)")


def tables(where: str, argument: str, value: Any, *, optional: bool = True) -> list[Any] | None:
    if value is None and optional:
        return None
    if isinstance(value, (list, tuple)):
        return list(value)
    raise refuse(where, argument, value, "takes a list of dicts (as the TOML file's [[tables]])")


def observers(where: str, value: Any) -> tuple[Any, ...]:
    """None, one observer, or a list or tuple of them; an observer defines some of the events."""
    if value is None:
        return ()
    listed = (value,) if is_observer(value) else value
    if isinstance(listed, (list, tuple)) and all(is_observer(o) for o in listed):
        return tuple(listed)
    raise refuse(where, "observers", value, "takes observers (objects with some of the methods "
                 f"{', '.join(EVENTS[:5])}, ...: see reglab.progress.events), one or a list of them")


def callbacks(where: str, value: Any) -> tuple[Any, ...]:
    """None, one Keras-style callback, or a list or tuple of them (reglab.progress.keras_callbacks)."""
    from reglab.progress.keras_callbacks import HOOKS

    def is_callback(item: Any) -> bool:
        return not isinstance(item, (str, bytes, Mapping, list, tuple)) and any(
            callable(getattr(item, hook, None)) for hook in HOOKS)

    if value is None:
        return ()
    listed = (value,) if is_callback(value) else value
    if isinstance(listed, (list, tuple)) and all(is_callback(c) for c in listed):
        return tuple(listed)
    raise refuse(where, "callbacks", value, f"takes objects with some of Keras's callback methods ({', '.join(HOOKS)}; "
                 "a keras.callbacks.Callback subclass works), one or a list of them")


def is_observer(value: Any) -> bool:
    return not isinstance(value, (str, bytes, int, float, Mapping, list, tuple)) and any(
        callable(getattr(value, event, None)) for event in EVENTS)


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"
