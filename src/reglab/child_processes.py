"""Every process reglab starts ends with its parent, however the parent ends (issue 24, fault 2).

A parent killed with SIGKILL (the out-of-memory killer's signal) runs no clean-up, so the child
must watch for itself. On Linux it asks the kernel, right after the fork, for SIGKILL when its
parent goes (prctl PR_SET_PDEATHSIG), then checks that the parent is still the one it was forked
from: one that died between the fork and the prctl call left it adopted already, and the kernel
would never send the signal. Elsewhere a thread of the child checks once a second that its parent
is still there (a pool's pipes do not tell: a forked worker holds their other end itself).
Torch-free: the report's figure workers use it too.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """Called in a child right after it was forked (or spawned) by the process `parent`. It also
    leaves Ctrl-C to the parent (SIGINT ignored: the terminal sends it to the whole group) and
    gives SIGTERM its default (a forked child inherits the study's handler, which only asks for
    a stop at the epoch's end and so made a figure worker ignore SIGTERM)."""
    watched_by_kernel = False
    if sys.platform == "linux":
        try:
            watched_by_kernel = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0
        except (OSError, AttributeError):  # no libc to call: the thread below watches instead
            pass
    if not watched_by_kernel:
        threading.Thread(target=_watch, args=(parent,), name="reglab-parent-watch", daemon=True).start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if os.getppid() != parent:  # the parent died before the prctl took effect
        os._exit(1)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)
