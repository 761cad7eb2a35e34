"""numba's threading layer, chosen fork-safe, and a lock that keeps parallel kernel launches one at a time.

GNU OpenMP (numba's pick without TBB) aborts a process that forks after a parallel kernel has run, which is what
Gymnasium's async vector envs and ``multiprocessing`` with fork do. The ``forksafe`` choice takes TBB where it
loads, else the workqueue layer; the workqueue layer aborts on concurrent launches from two threads, so every
parallel kernel here runs under ``KERNEL_LOCK`` (a kernel already uses every core, so nothing is lost).
A ``NUMBA_THREADING_LAYER`` set by the user wins.
"""

from __future__ import annotations

import os
import threading

import numba

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "forksafe"

KERNEL_LOCK = threading.Lock()
