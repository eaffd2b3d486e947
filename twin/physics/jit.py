"""Compiled kernels for the tick: numba's ``njit`` with the options every kernel shares.

A tick is a few hundred small array operations; in numpy each one is a call through the
interpreter and a temporary, so the interpreter sets the pace, not the arithmetic. A kernel
compiled with numba runs one stage (a service step, a flow-model round, a monitor read) as one
loop nest over all members of a batch, so a single twin is the batch of one and a batch of B
costs B times the arithmetic, not B times the calls.

The options:

- ``cache=True``: compiled code is kept beside the source (``__pycache__``), keyed by the CPU,
  so only the first run on a machine pays the compile; the code is built for the CPU it runs on,
  never for the build machine's (no ``-march=native`` hazard).
- ``error_model="numpy"``: division by zero gives ``inf``/``nan`` as numpy does, not an exception.
- no ``fastmath``: IEEE order of operations, so a kernel is deterministic and a member of a batch
  gives the bits it gives alone. Transcendentals (``exp``, ``log``) come from the C library, not
  numpy's SIMD loops, so they can differ from numpy's in the last bit; a kernel is checked
  against its numpy formulation to a relative 1e-12, and exactly where it uses none.

>>> import numpy as np
>>> @kernel
... def total(x):
...     s = 0.0
...     for v in x:
...         s += v
...     return s
>>> total(np.arange(4.0))
6.0
"""

from __future__ import annotations

import os

import numba

__all__ = ["kernel"]


def kernel(fn):
    """Compile ``fn`` (numba ``njit``; see the module for why these options). A function with no
    source file (typed at a prompt) compiles without the on-disk cache."""
    cache = os.path.isfile(fn.__code__.co_filename)
    return numba.njit(cache=cache, nogil=True, error_model="numpy")(fn)
