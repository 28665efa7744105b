"""Start-up costs that are not the user's work.

Importing torch and torch._dynamo creates about 290,000 objects that live as long as the process.
Python's cyclic garbage collector ran 5 full collections over them during those imports, 1.0 s of
5.3 s on two cores (measured with gc.callbacks; benchmarks/bench_startup.py), and freed next to
nothing: imports make little garbage. So such imports run with the collector paused, and what
they created is then frozen (gc.freeze): later collections skip it, and forked workers keep
sharing its memory pages instead of copying those a collection would touch.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def long_lived_imports() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def import_dynamo() -> None:
    """torch.optim imports torch._dynamo whatever it is asked to do: Optimizer.__init__ calls
    add_param_group and zero_grad, state_dict and load_state_dict are wrapped in
    torch._disable_dynamo, which imports it on their first call, and every step() imports it to
    call torch._dynamo.graph_break() (torch/optim/optimizer.py, torch 2.13). In eager mode these
    calls do nothing, but the import is unconditional: avoiding it would mean leaving torch.optim
    (the reference loop's oracle) or stubbing torch's internals. So it is paid once, before any
    run's clock starts (1.5 s on two cores), and without the garbage collector."""
    with long_lived_imports():
        import torch._dynamo  # noqa: F401
