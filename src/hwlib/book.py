"""``hwlib report``: execute the chapters whose recorded inputs (:func:`inputs`) changed, with papermill."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from hwlib.errors import HwlibError
from hwlib.settings import chapter_parameters
from hwlib.store import MANIFEST, READ_LOG, RunStore, project_root

CHAPTERS = ("intro", "mnist", "cifar10", "reproduction", "gaps")
PACKAGE = Path(__file__).resolve().parent  # hwlib's sources: an input of every chapter
PARTS = {"code": "its code cells", "parameters": "its parameters", "hwlib": "hwlib's code",
         "store": "the run-store entries it read", "data": "the datasets"}


def book_dir() -> Path:
    root = project_root()
    if root is None:
        raise HwlibError("`hwlib report` runs from a checkout of hwlib (it needs the book/ folder).")
    return root / "book"


def execute_chapters(parameters: dict[str, Any] | None = None, chapters: tuple[str, ...] = CHAPTERS,
                     log=print) -> list[Path]:
    """Execute each chapter in place; a chapter that fails never replaces a good one (it is
    kept under ``book/_build/failed/``). The store keys its kernel reads are recorded."""
    import papermill as pm

    book = book_dir()
    done = []
    for chapter in chapters:
        src = book / f"{chapter}.ipynb"
        scratch = book / "_build" / "papermill"
        scratch.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(suffix=f"-{chapter}.ipynb", dir=scratch)
        os.close(fd)
        tmp, params = Path(tmp_name), chapter_parameters(chapter, parameters or {})
        reads = tmp.with_suffix(".reads")
        log(f"executing {src.relative_to(book.parent)} ...")
        try:
            with mock.patch.dict(os.environ, {READ_LOG: str(reads)}):  # the kernel inherits it
                pm.execute_notebook(str(src), str(tmp), parameters=params, cwd=str(book),
                                    kernel_name="python3", progress_bar=False)
            keys = set(reads.read_text().split()) if reads.exists() else set()
        except pm.PapermillExecutionError as exc:
            failed = book / "_build" / "failed" / src.name
            failed.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(tmp, failed)
            raise HwlibError(f"Chapter {src.name} stopped in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
                             f"(the executed notebook is in {failed}; {src.name} is unchanged).") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            reads.unlink(missing_ok=True)
        _tidy(tmp, params, keys)
        os.replace(tmp, src)
        done.append(src)
    return done


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def _in_book(path: str | None) -> Path | None:
    """A ``store`` or ``data_dir`` parameter as the chapter's kernel (run in ``book/``) reads it."""
    return None if path is None else book_dir() / path


def _datasets(data_dir: Path | None) -> dict[str, str]:
    """The fingerprint of each dataset found (never downloaded)."""
    from hwlib import data as hwdata

    found = {}
    with mock.patch.dict(os.environ, {"HWLIB_NO_DOWNLOAD": "1"}):
        for name in hwdata.DATASETS:
            with contextlib.suppress(HwlibError):
                found[name] = hwdata.identify(name, data_dir).fingerprint
    return found


def inputs(nb: Any, params: dict[str, Any], keys: Any, data: dict[str, str]) -> dict[str, Any]:
    """What chapter ``nb`` was computed from, ``{"digest", "parts"}``: its code cells, parameters, hwlib's code,
    the manifest of each store entry read (``keys``) and the datasets' fingerprints (``data``)."""
    code = [c.source for c in nb.cells if c.cell_type == "code"
            and "injected-parameters" not in c.metadata.get("tags", [])]
    names = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")) + ["reported.yml"]
    runs = RunStore(_in_book(params.get("store")))
    parts = {"code": _sha(json.dumps(code)),
             "parameters": json.loads(json.dumps(params, sort_keys=True, default=str)),
             "hwlib": _sha(json.dumps({n: _sha((PACKAGE / n).read_bytes()) for n in names})),
             "store": {k: _sha(m.read_bytes()) if (m := runs.path(k) / MANIFEST).is_file() else "absent"
                       for k in sorted(keys)},
             "data": data}
    return {"digest": _sha(json.dumps(parts, sort_keys=True)), "parts": parts}


def stale_parts(chapter: str, parameters: dict[str, Any]) -> list[str]:
    """The inputs of the committed chapter that changed since it recorded them (a dataset not found: unchanged)."""
    import nbformat

    nb = nbformat.read(book_dir() / f"{chapter}.ipynb", as_version=4)
    try:
        recorded = nb.metadata["hwlib"]["inputs"]
        old, digest = recorded["parts"], recorded["digest"]
        keys, data = list(old["store"]), dict(old["data"])
    except (KeyError, TypeError, ValueError):
        return ["it has no recorded inputs"]
    params = chapter_parameters(chapter, parameters)
    data.update((n, fp) for n, fp in _datasets(_in_book(params.get("data_dir"))).items() if n in data)
    now = inputs(nb, params, keys, data)
    if now["digest"] == digest:
        return []
    return [f"{PARTS[n]} changed" for n in PARTS if now["parts"][n] != old.get(n)] or ["its digest changed"]


def stale_chapters(parameters: dict[str, Any], chapters: tuple[str, ...] = CHAPTERS,
                   log=print) -> tuple[str, ...]:
    """The ``chapters`` whose inputs changed, each logged with why."""
    stale = []
    for chapter in chapters:
        why = stale_parts(chapter, parameters)
        log(f"{chapter}.ipynb: stale ({'; '.join(why)})" if why else
            f"{chapter}.ipynb: current (its recorded inputs are unchanged), skipped")
        stale += [chapter] if why else []
    return tuple(stale)


def _not_stderr(output: Any) -> bool:
    """Whether a cell output is kept in a committed chapter: all but stderr (progress lines)."""
    return not (output.get("output_type") == "stream" and output.get("name") == "stderr")


def _tidy(path: Path, params: dict[str, Any], keys: set[str]) -> None:
    """Hide papermill's parameters cell, drop wall-clock and machine metadata, record :func:`inputs`."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for meta in [nb.metadata.get("papermill", {})] + [c.metadata.get("papermill", {}) for c in nb.cells]:
        for key in ("start_time", "end_time", "duration", "exception", "status"):
            meta.pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if _not_stderr(o)]
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            cell.id = "injected-parameters"  # papermill draws a random id each run
            if "remove-cell" not in tags:
                tags.append("remove-cell")
    for key in ("environment_variables", "input_path", "output_path"):
        nb.metadata.get("papermill", {}).pop(key, None)
    nb.metadata["hwlib"] = {"inputs": inputs(nb, params, keys, _datasets(_in_book(params.get("data_dir"))))}
    nbformat.write(nb, path)
