"""The chapters' prose, as a reader sees it (each markdown cell with its glued values and glued
Markdown filled in, the way MyST-NB renders them):

* a table, figure or section of the original homework is always named as the homework's (the
  book numbers its own tables and figures, so "Table 3" alone would mean two different things);
* one number style: no placeholder plural ("collapse(s)"), no e-notation ("9.36e-05"), a true
  minus sign, never a hyphen, before a number ("−0.52", not "-0.52");
* no file outside the repository ("original-code-settings.md", "../shared", "/work/..."): a
  file the prose names is one of the repository's;
* "confidence interval" never for the prediction interval of one new run (in a table's caption
  or in a sentence);
* the homework's report is in the bibliography and cited.

Code cells, inline code and math are not prose: only the file-name check reads inline code
(a command, code with a space in it, is left out). ``HWLIB_BOOK_DIR`` points the test at
another book folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from myst_nb.core.variables import format_plain_text

ROOT = Path(__file__).resolve().parents[1]
BOOK = Path(os.environ.get("HWLIB_BOOK_DIR") or ROOT / "book").resolve()
CHAPTERS = sorted(BOOK.glob("*.ipynb"))
IDS = [p.stem for p in CHAPTERS]
REFERENCE = re.compile(r"\b(?:Tables?|Figures?|Fig\.|Sections?) \d")
# What may stand just before such a reference: the owner, said in words.
OWNED = re.compile(r"(homework's|report's|original's|its)\s*\(?$")
REPORT_KEY = "homework2-report"  # references.bib: the homework's report, which the book reproduces


# --- the prose as rendered ---------------------------------------------------------------------

GLUE_PREFIX = "application/papermill.record/"
GLUE_ROLE = re.compile(r"\{glue(?::text|:md|:any)?\}`([^`]+)`")
GLUE_BLOCK = re.compile(r"^(`{3,}|:{3,})\{glue(?::md|:any)?\}[ \t]+(\S+)[^\n]*\n(?:.*?\n)??\1[ \t]*$",
                        re.M | re.S)


def glued(nb) -> dict[str, dict[str, str]]:
    """Every value a notebook glued, by key: its MIME data (``text/plain``, ``text/markdown``)."""
    out = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                out[name] = {k.removeprefix(GLUE_PREFIX): v for k, v in output.get("data", {}).items()}
    return out


def _paste_role(values: dict[str, dict[str, str]], match: re.Match) -> str:
    key, _, fmt = match.group(1).partition(":")
    data = values.get(key.strip(), {})
    if match.group(0).startswith("{glue:md}") and "text/markdown" in data:
        return data["text/markdown"]
    if "text/plain" not in data:
        return ""  # a missing key fails the -W book build, not this test
    return format_plain_text(data["text/plain"], fmt or "")


def _paste_block(values: dict[str, dict[str, str]], match: re.Match) -> str:
    data = values.get(match.group(2), {})
    return data.get("text/markdown", data.get("text/plain", ""))


def rendered(nb) -> list[str]:
    """Each markdown cell of ``nb`` with its glued values and glued Markdown pasted in."""
    values = glued(nb)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text = GLUE_BLOCK.sub(lambda m: _paste_block(values, m), cell.source)
            cells.append(GLUE_ROLE.sub(lambda m: _paste_role(values, m), text))
    return cells


FENCE = re.compile(r"^(`{3,}|~{3,})[^\n]*\n.*?^\1[ \t]*$", re.M | re.S)
MATH_BLOCK = re.compile(r"\$\$.*?\$\$|^:{3,}\{math\}.*?^:{3,}[ \t]*$", re.M | re.S)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\s)[^$\n]+?(?<!\s)\$")
ROLE = re.compile(r"\{[\w:.-]+\}`[^`]*`")
CODE = re.compile(r"`[^`\n]+`")
OPTION = re.compile(r"^:[\w-]+:.*$", re.M)
URL = re.compile(r"\]\([^)]*\)|<https?://[^>]*>|https?://\S+")
COMMENT = re.compile(r"<!--.*?-->", re.S)


def prose(text: str) -> str:
    """``text`` without what is not prose: code blocks and inline code, math, MyST roles
    (cross-references, citations), directive options, links' targets, comments."""
    for pattern in (COMMENT, FENCE, MATH_BLOCK, INLINE_MATH, ROLE, CODE, OPTION, URL):
        text = pattern.sub(" ", text)
    return text


def _hits(pattern: re.Pattern, text: str) -> list[str]:
    return [" ".join(text[max(0, m.start() - 30):m.end() + 20].split()) for m in pattern.finditer(text)]


# --- the checks ---------------------------------------------------------------------------------


def bare_references(text: str) -> list[str]:
    """Every "Table N"/"Figure N"/"Section N" in ``text`` not preceded by whose it is."""
    found = []
    for m in REFERENCE.finditer(text):
        before = text[max(0, m.start() - 40):m.start()]
        if not OWNED.search(before.rstrip()):
            found.append(text[max(0, m.start() - 30):m.end() + 10].replace("\n", " "))
    return found


PLACEHOLDER_PLURAL = re.compile(r"[^\W\d_]\((?:e?s)\)")
E_NOTATION = re.compile(r"(?<![\w.])\d+(?:\.\d+)?[eE][-−+]?\d+(?!\w|\.\d)")
# A hyphen at the start of a number: after a space, an opening bracket, "=" or "/", or at the
# start of a line; not inside a word or a range ("CIFAR-10", "top-1", "0-255").
HYPHEN_MINUS = re.compile(r"(?:^|(?<=[\s(\[{=/±]))-(?=\.?\d)", re.M)
SENTENCE = re.compile(r"[^.!?\n]*(?:\.(?=\d)[^.!?\n]*)*[.!?]?")
CONFIDENCE = re.compile(r"confidence\s+interval", re.I)
CONFIDENCE_COLUMN = re.compile(r"confidence|\bCI\b", re.I)
PREDICTION = re.compile(r"prediction\s+interval", re.I)
# "... confidence interval of our mean": named for what it is.
CONFIDENCE_OF = re.compile(r"\s+(?:of|for)\s+(?:our|the|its|a|each)\s+(?:[\w-]+\s+)?(?:mean|difference)\b", re.I)
ONE_RUN = re.compile(r"\b(?:one|a|any)\s+(?:new|single|further)\s+run\b|\bsingle\s+run\b", re.I)
TABLE_BLOCK = re.compile(r"^(:{3,})\{table\}([^\n]*)\n(.*?)^\1[ \t]*$", re.M | re.S)


def placeholder_plurals(text: str) -> list[str]:
    """Placeholder plurals: "collapse(s)", "run(s)", "batch(es)" (not a unit: "time (s)")."""
    return _hits(PLACEHOLDER_PLURAL, prose(text))


def e_notation(text: str) -> list[str]:
    """Numbers in e-notation: "9.36e-05", "1e−3", "2E+4" (not a run key or a word)."""
    return _hits(E_NOTATION, prose(text))


def hyphen_minus(text: str) -> list[str]:
    """A hyphen used as a minus sign before a number: " -0.52", "(-3", "[-0.1, 0.2]"."""
    return _hits(HYPHEN_MINUS, prose(text))


def misnamed_intervals(text: str) -> list[str]:
    """Where a prediction interval is called a "confidence interval": a table's caption says
    "confidence interval" while the table's interval column is a prediction interval (and it
    has no confidence-interval column), or a sentence about one new run speaks of a
    "confidence interval" without saying it is one of a mean or a difference."""
    found = []
    for m in TABLE_BLOCK.finditer(text):
        caption, header = m.group(2), next((line for line in m.group(3).splitlines() if line.startswith("|")), "")
        if CONFIDENCE.search(caption) and PREDICTION.search(header) and not CONFIDENCE_COLUMN.search(header):
            found.append(" ".join(prose(caption).split()))
    for sentence in SENTENCE.findall(" ".join(prose(text).replace("*", "").split())):
        said = [m for m in CONFIDENCE.finditer(sentence) if not CONFIDENCE_OF.match(sentence, m.end())]
        if said and ONE_RUN.search(sentence):
            found.append(sentence.strip())
    return found


FILE_NAME = re.compile(r"(?<![\w/.-])(?:\.{1,2}/|~/|/(?=\w))?[\w.-]+(?:/[\w.-]+)*"
                       r"\.(?:md|txt|rst|py|ipynb|ya?ml|toml|json|csv|pdf|tex|sh|cfg|ini|npz)(?![\w])")
OUTSIDE = re.compile(r"^(?:\.\./|~/|/)")
SKIPPED_DIRS = {".git", ".venv", "node_modules", "__pycache__", "_build", "results", ".pytest_cache"}


def repository_files(root: Path = ROOT) -> set[str]:
    """Every file of the checkout, as paths relative to ``root`` (build output, the run
    store and environments left out)."""
    files = set()
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        base = Path(folder).relative_to(root)
        files.update((base / name).as_posix() for name in names)
    return files


def outside_files(text: str, files: set[str]) -> list[str]:
    """File names in ``text`` that are not the repository's: a path that leaves it ("../",
    "~/", "/work/...") or a name no file of ``files`` ends with ("original-code-settings.md").
    Inline code counts (a file is often named in it); a command with spaces does not."""
    text = CODE.sub(lambda m: " " if re.search(r"\s", m.group()) else m.group().strip("`"), text)
    for pattern in (COMMENT, FENCE, MATH_BLOCK, URL):
        text = pattern.sub(" ", text)
    found = []
    for m in FILE_NAME.finditer(text):
        name = m.group()
        if OUTSIDE.match(name) or not any(f == name or f.endswith("/" + name) for f in files):
            found.append(name)
    found += [m.group() for m in re.finditer(r"\.\./[\w./-]*", text) if m.group() not in found]
    return found


# --- the checks can fail ------------------------------------------------------------------------


def test_bare_reference_detection():
    assert bare_references("as Table 3 shows") == ["as Table 3 shows"]
    assert bare_references("the homework's Table 3 (our {numref}`tab-mnist-sweep`)") == []
    assert bare_references("its Sections 1.1.3 and 1.4") == []
    assert bare_references("row 1 of Figure 13.") != []


def test_rendering_pastes_glued_values():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(outputs=[
            nbformat.v4.new_output("display_data", data={GLUE_PREFIX + "text/plain": "-0.26000149"},
                                   metadata={"scrapbook": {"name": "change", "mime_prefix": GLUE_PREFIX}}),
            nbformat.v4.new_output("display_data", data={GLUE_PREFIX + "text/plain": "'1 collapse(s)'",
                                                         GLUE_PREFIX + "text/markdown": "| a |\n|---|\n| -1 |"},
                                   metadata={"scrapbook": {"name": "tab", "mime_prefix": GLUE_PREFIX}})]),
        nbformat.v4.new_markdown_cell("It moved by {glue:text}`change:.2f` points; {glue:text}`tab`.\n\n"
                                      ":::{table} T\n:name: tab-t\n\n```{glue:md} tab\n:format: myst\n```\n:::"),
    ])
    [text] = rendered(nb)
    assert "It moved by -0.26 points; 1 collapse(s)." in text
    assert "| -1 |" in text and "glue" not in text


def test_placeholder_plural_detection():
    assert placeholder_plurals("1 collapse(s) in 10 runs") == ["1 collapse(s) in 10 runs"]
    assert placeholder_plurals("the batch(es) and run(s)") != []
    assert placeholder_plurals("training time (s) per epoch; $f(s)$ and `len(s)`") == []


def test_e_notation_detection():
    for text in ("a learning rate of 9.36e-05", "9.36e−05 at epoch 3", "lr 1e-3.", "about 2E+4 steps",
                 "CIFAR-10 has 1e4 test images"):
        assert e_notation(text) != [], text
    for text in ("run 3e5a1f0c", "0.0000936 and 262,144", "code: `lr = 1e-3`", "$10^{-5}$", "figure 2e",
                 "9.36 × 10⁻⁵"):
        assert e_notation(text) == [], text


def test_hyphen_minus_detection():
    for text in ("a change of -0.52 points", "(-3.1 sd)", "[-0.10, 0.25]", "-5 at the start", "x = -.5"):
        assert hyphen_minus(text) != [], text
    for text in ("a change of −0.52 points", "CIFAR-10 and top-1", "pixels 0-255, 2021-10-05",
                 "mnist-k5s1-same", "- 5 runs in a list", "the `-p epochs 2` option", "$x = -1$"):
        assert hyphen_minus(text) == [], text


def test_misnamed_interval_detection():
    caption = "Each accuracy against our mean ± sd, its 95% confidence interval, and the verdict."
    table = ":::{table} %s\n:name: tab-x\n\n| Result | Ours: mean ± sd | 95%% %s | Verdict |\n|---|---|---|---|\n:::"
    assert misnamed_intervals(table % (caption, "prediction interval")) == [caption]
    assert misnamed_intervals(table % (caption, "CI")) == []
    assert misnamed_intervals(table % (caption.replace("confidence", "prediction"), "prediction interval")) == []
    assert misnamed_intervals("The 95% confidence interval for one new run is wide.") != []
    assert misnamed_intervals("A single run lies inside our confidence interval.") != []
    assert misnamed_intervals("Not the confidence interval of our *mean*: it narrows, unfair to a single run.") == []
    assert misnamed_intervals("The paired difference over our seeds, its 95% confidence interval.") == []
    assert misnamed_intervals("the exact 95 % Clopper–Pearson confidence interval for a proportion") == []


def test_outside_file_detection():
    files = {"docs/variants.md", "src/hwlib/reported.yml", "book/mnist.ipynb"}
    assert outside_files("see `original-code-settings.md` beside this project", files) == [
        "original-code-settings.md"]
    assert outside_files("in ../shared/seed/homework2-report.txt", files) == ["../shared/seed/homework2-report.txt"]
    assert outside_files("copied to /work/shared/notes.md", files) == ["/work/shared/notes.md"]
    assert outside_files("the folder ../shared", files) == ["../shared"]
    assert outside_files("see docs/variants.md and `reported.yml` (src/hwlib/reported.yml)", files) == []
    assert outside_files("run `papermill book/mnist.ipynb out.ipynb -p epochs 2`", files) == []
    assert outside_files("[the variants](https://github.com/o/hwlib/blob/main/docs/other.md)", files) == []


def test_repository_files_are_found():
    files = repository_files()
    assert {"docs/variants.md", "book/_config.yml", "src/hwlib/reported.yml"} <= files
    assert not any(f.startswith((".venv/", "results/")) for f in files)


# --- the chapters -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chapter_text() -> dict[str, list[str]]:
    return {path.stem: rendered(nbformat.read(path, as_version=4)) for path in CHAPTERS}


@pytest.fixture(scope="module")
def files() -> set[str]:
    return repository_files()


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_no_bare_reference_to_the_original(path):
    nb = nbformat.read(path, as_version=4)
    bare = [ref for cell in nb.cells if cell.cell_type == "markdown" for ref in bare_references(cell.source)]
    assert bare == [], f"{path.name}: say whose table/figure/section: {bare}"


WORDING = {  # a check of the chapters' text and what to do about what it finds
    "placeholder plurals": (placeholder_plurals, "make the plural agree with its count"),
    "e-notation": (e_notation, "write these as decimals (hwlib.numfmt.sig)"),
    "hyphen as minus": (hyphen_minus, "a hyphen as a minus sign (use hwlib.numfmt, \"−\")"),
}


@pytest.mark.parametrize("check", WORDING)
@pytest.mark.parametrize("name", IDS)
def test_number_style(chapter_text, name, check):
    find, advice = WORDING[check]
    found = [hit for text in chapter_text[name] for hit in find(text)]
    assert found == [], f"{name}.ipynb: {advice}: {found}"


@pytest.mark.parametrize("name", IDS)
def test_no_file_outside_the_repository(chapter_text, files, name):
    found = [hit for text in chapter_text[name] for hit in outside_files(text, files)]
    assert found == [], f"{name}.ipynb names files that are not in the repository: {found}"


@pytest.mark.parametrize("name", IDS)
def test_a_prediction_interval_is_not_called_a_confidence_interval(chapter_text, name):
    found = [hit for text in chapter_text[name] for hit in misnamed_intervals(text)]
    assert found == [], f"{name}.ipynb: a prediction interval called a \"confidence interval\": {found}"


def test_the_homework_is_in_the_bibliography_and_cited(chapter_text):
    bib = (BOOK / "references.bib").read_text()
    assert re.search(rf"@\w+\{{{re.escape(REPORT_KEY)},", bib), f"references.bib has no entry {REPORT_KEY}"
    cited = [name for name, cells in chapter_text.items()
             if any(re.search(rf"\{{cite(?::\w+)?\}}`[^`]*\b{re.escape(REPORT_KEY)}\b", c) for c in cells)]
    assert cited, f"no chapter cites the homework's report ({{cite:p}}`{REPORT_KEY}`)"
