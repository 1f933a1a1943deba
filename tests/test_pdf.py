"""The PDF book, page by page: built the way `make pdf` builds it, then every page rendered.

A session fixture builds the PDF (`jupyter-book build book/ --builder pdflatex -n -W
--keep-going`, rendering the committed executed chapters) into a temporary folder and fails
on any Sphinx warning or any undefined LaTeX reference; pdftoppm (poppler-utils) renders each
page. The checks: the structure (the intro an unnumbered preface, then the chapters numbered
from 1 in the order of _toc.yml, the references last), a sane page count, and no page that is
almost empty. Needs the TeX toolchain of `scripts/install-tex.sh` (skipped without it, except
under CI=true, where it fails).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import unless

ROOT = Path(__file__).resolve().parents[1]
BOOK = Path(os.environ.get("HWLIB_BOOK_DIR") or ROOT / "book").resolve()
TOOLS = ("xelatex", "latexmk", "pdftoppm", "pdftotext")
PAGES = (15, 80)  # the book is about 30 pages; far outside this range something went wrong
MIN_FILLED = 0.12  # a page (but the title page) has ink on at least 12% of its height
RENDER_DPI = 30  # enough to see where the ink is

pytestmark = [
    pytest.mark.timeout(900),
    unless(all(shutil.which(t) for t in TOOLS),
           f"needs {', '.join(TOOLS)}: run `make test-tools` (scripts/install-tex.sh; make pdf does too)"),
]


def title_of(name: str) -> str:
    """The first level-1 heading of a chapter file (.ipynb or .md)."""
    path = next(BOOK.glob(f"{name}.*"))
    text = path.read_text()
    if path.suffix == ".ipynb":
        import nbformat

        text = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells if c.cell_type == "markdown")
    return re.search(r"^# (.+)$", text, re.M).group(1).strip()


def preface_title() -> str:
    return title_of(yaml.safe_load((BOOK / "_toc.yml").read_text())["root"])


def chapter_titles() -> list[str]:
    """The first heading of each numbered chapter, in the order of _toc.yml (the back matter
    part, the bibliography, excluded)."""
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] if part["caption"] != "Back matter" for c in part["chapters"]]
    return [title_of(name) for name in files]


@pytest.fixture(scope="session")
def pdf(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pdfbook")
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    run = subprocess.run([jb, "build", str(BOOK), "--builder", "pdflatex", "-n", "-W", "--keep-going",
                          "--path-output", str(out)], capture_output=True, text=True, timeout=900,
                         env={**os.environ, "NO_COLOR": "1", "TERM": "dumb"})
    log = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)
    warnings = [line for line in log.splitlines() if re.search(r"\b(WARNING|ERROR)\b", line)]
    latex = out / "_build" / "latex"
    assert run.returncode == 0 and not warnings, (
        f"the PDF does not build cleanly (exit {run.returncode}):\n" + "\n".join(warnings[:40] or log.splitlines()[-40:]))
    tex_log = (latex / "hwlib-report.log").read_text(errors="replace")
    undefined = re.findall(r"Reference `([^']+)' on page \d+ undefined", tex_log)
    assert undefined == [], f"undefined references in the PDF: {sorted(set(undefined))}"
    return latex / "hwlib-report.pdf"


@pytest.fixture(scope="session")
def pages(pdf, tmp_path_factory) -> list[np.ndarray]:
    """Every page as a grey-scale array (0 black, 255 white)."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("pages")
    subprocess.run(["pdftoppm", "-r", str(RENDER_DPI), "-gray", str(pdf), str(folder / "page")], check=True)
    return [np.asarray(Image.open(f)) for f in sorted(folder.glob("page-*.pgm"))]


@pytest.fixture(scope="session")
def text(pdf) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout


def filled(page: np.ndarray) -> float:
    """The fraction of the page's height that has ink on it (headers and footers count)."""
    return float((page < 200).any(axis=1).mean())


def test_page_count_is_sane(pages):
    assert PAGES[0] <= len(pages) <= PAGES[1], f"{len(pages)} pages"


def test_no_page_is_almost_empty(pages):
    empty = [(i + 1, round(filled(p), 3)) for i, p in enumerate(pages) if i > 0 and filled(p) < MIN_FILLED]
    assert empty == [], f"almost empty pages (page, filled fraction): {empty}"


def test_the_intro_is_an_unnumbered_preface_and_the_chapters_count_from_one(text):
    body = re.sub(r"\s+", " ", text.upper()).split("CONTENTS", 1)[1]
    preface = body.find(preface_title().upper() + " ")
    assert 0 <= preface < body.find("CHAPTER ONE"), "the preface is missing or comes after chapter one"
    numbers = ("ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
    position = 0
    for number, title in zip(numbers, chapter_titles()):
        heading = f"CHAPTER {number} {title.upper()}"
        found = body.find(heading, position)
        assert found >= 0, f"no '{heading}' (in order) in the PDF"
        position = found
    assert f"CHAPTER {numbers[len(chapter_titles())]}" not in body, "more numbered chapters than _toc.yml has"


def test_the_references_come_last(text):
    tail = text[text.rfind("References"):]
    for author in ("Kingma", "LeCun", "Krizhevsky"):
        assert author in tail, f"{author} missing from the references at the end"
