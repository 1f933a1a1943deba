"""Root pytest configuration: the book's notebooks are checked by nbval (`--nbval-lax`).

They execute in the full profile from the committed run store, so they need the real
datasets: without `$HWLIB_DATA_DIR` (or ./data) they are skipped rather than failing.
"""

from __future__ import annotations

import os
from pathlib import Path


def _real_data() -> bool:
    folder = Path(os.environ.get("HWLIB_DATA_DIR") or "data")
    return (folder / "mnist.npz").exists() and any(
        (folder / name).exists() for name in ("cifar10.npz", "cifar-10-batches-py", "cifar-10-python.tar.gz"))


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    if collection_path.suffix == ".ipynb" and not _real_data():
        return True
    return None
