"""Install an example plug-in package into the running venv for a test module, then remove it."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                          capture_output=True, text=True, timeout=300, check=False)


@contextmanager
def installed_plugin(path: Path, dist: str, module: str, refresh: Callable[[], Any]) -> Iterator[Any]:
    """Editable-install the package at ``path`` (distribution ``dist``, top module ``module``),
    yield ``refresh()`` (the registry reloaded with it), and uninstall it afterwards."""
    done = pip("install", "--no-deps", "--no-build-isolation", "-e", str(path))
    if done.returncode != 0:
        pytest.fail(f"could not install the example plug-in {dist}: {done.stderr[-2000:]}")
    # an editable install's .pth only runs at interpreter start; make the package importable now
    sys.path.insert(0, str(path))
    importlib.invalidate_caches()
    try:
        yield refresh()
    finally:
        pip("uninstall", "-y", dist)
        sys.path.remove(str(path))
        sys.modules.pop(module, None)
        importlib.invalidate_caches()
        refresh()
