"""The chapters' prose: a table, figure or section of the original homework is always named
as the homework's (the book numbers its own tables and figures, so "Table 3" alone would
mean two different things)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))
REFERENCE = re.compile(r"\b(?:Tables?|Figures?|Fig\.|Sections?) \d")
# What may stand just before such a reference: the owner, said in words.
OWNED = re.compile(r"(homework's|report's|original's|its)\s*\(?$")


def bare_references(text: str) -> list[str]:
    """Every "Table N"/"Figure N"/"Section N" in ``text`` not preceded by whose it is."""
    found = []
    for m in REFERENCE.finditer(text):
        before = text[max(0, m.start() - 40):m.start()]
        if not OWNED.search(before.rstrip()):
            found.append(text[max(0, m.start() - 30):m.end() + 10].replace("\n", " "))
    return found


def test_bare_reference_detection():
    assert bare_references("as Table 3 shows") == ["as Table 3 shows"]
    assert bare_references("the homework's Table 3 (our {numref}`tab-mnist-sweep`)") == []
    assert bare_references("its Sections 1.1.3 and 1.4") == []
    assert bare_references("row 1 of Figure 13.") != []


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_no_bare_reference_to_the_original(path):
    nb = nbformat.read(path, as_version=4)
    bare = [ref for cell in nb.cells if cell.cell_type == "markdown" for ref in bare_references(cell.source)]
    assert bare == [], f"{path.name}: say whose table/figure/section: {bare}"
