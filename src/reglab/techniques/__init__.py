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
