"""Executing the book's chapters with papermill (``hwlib report``).

:func:`execute_chapters` runs each chapter in place, from the run store, so that
``jupyter-book build`` renders it; a chapter that fails never replaces a good one, and an
executed chapter keeps no timing or machine-specific metadata, so re-executing unchanged
results leaves it byte-identical.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hwlib.errors import HwlibError
from hwlib.settings import chapter_parameters
from hwlib.store import project_root

CHAPTERS = ("intro", "mnist", "cifar10", "reproduction", "gaps")


def book_dir() -> Path:
    root = project_root()
    if root is None:
        raise HwlibError("`hwlib report` runs from a checkout of hwlib (it needs the book/ folder).")
    return root / "book"


def execute_chapters(parameters: dict[str, Any] | None = None, chapters: tuple[str, ...] = CHAPTERS,
                     log=print) -> list[Path]:
    """Execute each chapter with papermill, in place, so ``jupyter-book build`` renders it.

    A chapter is written to a temporary file first and moved over the source only when it
    ran to the end: a failed chapter never replaces a good one (it is kept under
    ``book/_build/failed/`` to look at).
    """
    import papermill as pm

    book = book_dir()
    done = []
    for chapter in chapters:
        src = book / f"{chapter}.ipynb"
        scratch = book / "_build" / "papermill"
        scratch.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(suffix=f"-{chapter}.ipynb", dir=scratch)
        os.close(fd)
        tmp = Path(tmp_name)
        log(f"executing {src.relative_to(book.parent)} ...")
        try:
            pm.execute_notebook(str(src), str(tmp), parameters=chapter_parameters(chapter, parameters or {}),
                                cwd=str(book),
                                kernel_name="python3", progress_bar=False)
        except pm.PapermillExecutionError as exc:
            failed = book / "_build" / "failed" / src.name
            failed.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(tmp, failed)
            raise HwlibError(
                f"Chapter {src.name} stopped in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
                f"(the executed notebook is in {failed}; {src.name} is unchanged)."
            ) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _tidy(tmp)
        os.replace(tmp, src)
        done.append(src)
    return done


# TensorFlow's C++ start-up lines (oneDNN notice, absl) carry timestamps and pids.
_TF_LOG = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWE]\d{4} \d\d:\d\d:\d\d)")


def _without_tf_log(output: Any) -> Any:
    """The output without TensorFlow's C++ log lines (None if nothing else is left)."""
    if output.get("output_type") != "stream" or output.get("name") != "stderr":
        return output
    kept = [line for line in output["text"].splitlines(keepends=True) if not _TF_LOG.match(line)]
    if not kept:
        return None
    output["text"] = "".join(kept)
    return output


def _tidy(path: Path) -> None:
    """Hide papermill's injected-parameters cell in the book, and drop its wall-clock
    metadata so re-executing unchanged results leaves the committed notebook unchanged."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for meta in [nb.metadata.get("papermill", {})] + [c.metadata.get("papermill", {}) for c in nb.cells]:
        for key in ("start_time", "end_time", "duration", "exception", "status"):
            meta.pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in map(_without_tf_log, cell.outputs) if o is not None]
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            cell.id = "injected-parameters"  # papermill draws a random id each run
            if "remove-cell" not in tags:
                tags.append("remove-cell")
    meta = nb.metadata.get("papermill", {})
    meta.pop("environment_variables", None)
    for key in ("input_path", "output_path"):  # machine-specific, temporary
        meta.pop(key, None)
    nbformat.write(nb, path)
