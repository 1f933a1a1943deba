"""A chapter rerun online, as on Colab: a fresh Python with only Jupyter in it, hwlib missing.

The chapter's first cell installs hwlib from the book's repository (``-p repository URL``;
here the local checkout as a git URL, so the committed code is what gets installed), and
with the ``auto`` profile on a Binder/Colab machine it trains the quick profile. The
datasets come from ``HWLIB_DATA_DIR`` (online they would download on first use).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import needs_real_data, real_data_dir

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"


def pins(*names: str) -> list[str]:
    """The pinned requirement of each of ``names`` from constraints.txt."""
    lines = {line.split("==")[0].lower(): line.strip() for line in CONSTRAINTS.read_text().splitlines()
             if "==" in line and not line.startswith("#")}
    return [lines[n] for n in names]


@pytest.mark.slow
@pytest.mark.timeout(1800)
@needs_real_data
def test_a_chapter_installs_hwlib_and_runs_quick_where_hwlib_is_missing(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # What a Colab kernel has: Jupyter's kernel and papermill (to run the notebook), no hwlib.
    subprocess.run([str(python), "-m", "pip", "install", "-q", *pins("papermill", "ipykernel")],
                   check=True, capture_output=True, timeout=900)
    assert subprocess.run([str(python), "-c", "import hwlib"], capture_output=True).returncode != 0
    out = tmp_path / "intro.ipynb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env.update(BINDER_SERVICE_HOST="127.0.0.1", HWLIB_DATA_DIR=real_data_dir(), HWLIB_STORE=str(tmp_path / "store"),
               PIP_CONSTRAINT=str(CONSTRAINTS), PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}")
    run = subprocess.run([str(venv / "bin" / "papermill"), str(ROOT / "book" / "mnist.ipynb"), str(out),
                          "-p", "repository", f"file://{ROOT}", "-k", "python3", "--cwd", str(tmp_path)],
                         env=env, capture_output=True, text=True, timeout=1700)
    assert run.returncode == 0, run.stderr[-3000:]
    nb = nbformat.read(out, as_version=4)
    assert subprocess.run([str(python), "-c", "import hwlib"], capture_output=True).returncode == 0
    glued = {o["metadata"]["scrapbook"]["name"]: o["data"] for c in nb.cells for o in c.get("outputs", [])
             if o.get("metadata", {}).get("scrapbook")}
    profile = next(v for k, v in glued["mnist_profile"].items() if k.endswith("text/plain"))
    assert profile == "'quick'"  # auto: quick on Binder/Colab
