"""The techniques a study can use, one registry (registry.py) with a module per family.

`reglab.techniques()` is also the Python API's listing of them: importing this package makes
`reglab.techniques` this module, so the module itself answers the call (it would otherwise
shadow the function of that name in reglab/__init__.py).
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _Listing(types.ModuleType):
    def __call__(self) -> list[dict[str, Any]]:
        """Every technique: see registry.listing."""
        from reglab.techniques import registry

        return registry.listing()


sys.modules[__name__].__class__ = _Listing

# Importing the families registers their entries (registry.register). It is done here, where the
# package is first imported, so that the registry is complete before anything reads it and never
# imports the modules that import it. Only torch-free modules: the torch-backed factories are
# named by import path in their registrations.
from reglab.techniques import (  # noqa: E402,F401
    catalog,
    layers,
    losses,
    recurrent_dropout,
    schedules,
    stochastic_depth,
    training,
)
