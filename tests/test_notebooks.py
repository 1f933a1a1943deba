"""The book's chapters: parameters cells, papermill runs (quick profile), the inventory."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from hwlib.book import CHAPTERS
from hwlib.settings import EXTRA_PARAMETERS, OMITTED_PARAMETERS

from conftest import needs_real_data, real_data_dir
from inventory import INVENTORY

BOOK = Path(__file__).resolve().parents[1] / "book"
GLUE_REF = re.compile(r"\{glue:(?:text|md|figure|any)?\}`([^`:]+)(?::[^`]*)?`|```\{glue:md\} (\S+)")


def read(chapter: str, folder: Path = BOOK):
    return nbformat.read(folder / f"{chapter}.ipynb", as_version=4)


def parameters_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged 'parameters'"
    return cells[0]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_parameters_cell_holds_literals_only(chapter):
    tree = ast.parse(parameters_cell(read(chapter)).source)
    assert tree.body, "the parameters cell is empty"
    names = []
    for node in tree.body:
        assert isinstance(node, (ast.Assign, ast.AnnAssign)), ast.dump(node)
        target = node.targets[0] if isinstance(node, ast.Assign) else node.target
        assert isinstance(target, ast.Name)
        ast.literal_eval(node.value)  # raises on anything but a literal
        names.append(target.id)
    from hwlib.settings import Settings

    expected = [f.name for f in Settings.__dataclass_fields__.values()
                if f.name not in OMITTED_PARAMETERS.get(chapter, ())] + list(EXTRA_PARAMETERS.get(chapter, ()))
    assert sorted(names) == sorted(expected)


def glue_keys(nb) -> set[str]:
    keys = set()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            key = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if key:
                keys.add(key)
    return keys


def referenced_glue(nb) -> set[str]:
    refs = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for a, b in GLUE_REF.findall(cell.source):
                refs.add(a or b)
    return refs


def check_inventory(folder: Path) -> None:
    """Every inventory item is in its executed chapter: a figure cell with a PNG output,
    or a table whose glued content was produced, or the labelled equation."""
    nbs = {c: read(c, folder) for c in CHAPTERS}
    for chapter, nb in nbs.items():
        missing = referenced_glue(nb) - glue_keys(nb)
        assert not missing, f"{chapter}: prose refers to glue keys never computed: {sorted(missing)}"
    for item in INVENTORY:
        nb = nbs[item.chapter]
        if item.label.startswith("fig-"):
            cells = [c for c in nb.cells
                     if c.metadata.get("mystnb", {}).get("figure", {}).get("name") == item.label]
            assert len(cells) == 1, f"{item.id}: no single figure cell named {item.label}"
            pngs = [o for o in cells[0].outputs if "image/png" in o.get("data", {})]
            assert len(pngs) == 1, f"{item.id} ({item.label}): expected one PNG, got {len(pngs)}"
        else:
            md = [c for c in nb.cells if c.cell_type == "markdown" and f":name: {item.label}" in c.source
                  or f":label: {item.label}" in c.source]
            assert len(md) == 1, f"{item.id}: label {item.label} not found in {item.chapter}"


def test_inventory_covers_the_report():
    ids = [i.id for i in INVENTORY]
    assert sorted(i for i in ids if i[0] == "T") == [f"T{n}" for n in range(1, 8)]
    assert sorted((i for i in ids if i[0] == "F"), key=lambda s: int(s[1:])) == [f"F{n}" for n in range(1, 31)]
    assert "eq" in ids and len(set(i.label for i in INVENTORY)) == len(INVENTORY)
    assert {i for i in ids if i[0] == "R"} == {f"R{n}" for n in range(1, 11)}
    assert {i for i in ids if i[0] == "G"} == {f"G{n}" for n in range(1, 10)}


def test_committed_chapters_are_executed_and_complete():
    """The book is built from these files as they are (execute_notebooks: off)."""
    for chapter in CHAPTERS:
        nb = read(chapter)
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert injected, f"{chapter}.ipynb was not executed by `hwlib report` (make report)"
        assert nb.metadata["papermill"]["parameters"].get("profile") == "full", \
            f"{chapter}.ipynb was executed in another profile than 'full': run `make report`"
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors
    check_inventory(BOOK)


def execute(chapter: str, out_dir: Path, **parameters) -> Path:
    import papermill as pm

    out = out_dir / f"{chapter}.ipynb"
    pm.execute_notebook(str(BOOK / f"{chapter}.ipynb"), str(out), parameters=parameters,
                        cwd=str(BOOK), kernel_name="python3", progress_bar=False)
    return out


def glued(nb, key: str):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("metadata", {}).get("scrapbook", {}).get("name") == key:
                data = {k.rsplit("/", 2)[-2] + "/" + k.rsplit("/", 1)[-1]: v for k, v in out["data"].items()}
                return data.get("text/markdown", data.get("text/plain"))
    raise KeyError(key)


@pytest.mark.slow
@needs_real_data
def test_every_chapter_runs_in_the_quick_profile(tmp_path):
    store = str(tmp_path / "store")
    fewer_seeds = {"reproduction": {"seeds": 2},
                   # both variants and the sensitivity studies: 1 epoch on small subsets
                   "gaps": {"seeds": 2, "epochs": 1, "n_train": 300, "n_test": 200}}
    for chapter in CHAPTERS:
        execute(chapter, tmp_path, profile="quick", store=store, data_dir=real_data_dir(),
                **fewer_seeds.get(chapter, {}))
    check_inventory(tmp_path)
    nb = read("mnist", tmp_path)
    assert glued(nb, "mnist_epochs") == "2" and glued(nb, "mnist_n_train") == "2000"


def test_parameters_flow_into_tables_figures_and_prose(tiny_env, tiny_dir, tmp_path, monkeypatch):
    """`papermill -p epochs 1 -p n_train 100`: the chapter reflects those values."""
    out = execute("mnist", tmp_path, epochs=1, n_train=100, n_test=50, data_dir=str(tiny_dir),
                  store=str(tiny_env))
    nb = nbformat.read(out, as_version=4)
    assert glued(nb, "mnist_epochs") == "1"
    assert glued(nb, "mnist_n_train") == "100" and glued(nb, "mnist_n_test") == "50"
    assert re.search(r"\| Epochs\s+\| 1\s+\|", glued(nb, "mnist_hparams"))
    assert glued(nb, "mnist_base_epochs") == "1"
    # The summary printed for nbval lists every run of the chapter, each with its own key.
    summary = [c for c in nb.cells if "NBVAL_CHECK_OUTPUT" in c.source][0].outputs[0]["text"]
    assert summary.count("mnist-") == 9


# -- the papermill path, as a user takes it ----------------------------------------------
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_papermill_lists_every_parameter_with_type_default_and_help(chapter):
    """`papermill --help-notebook` shows every parameter of the chapter (papermill reads a
    `# type:` comment, not a quoted annotation such as "int | None")."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(BOOK / f"{chapter}.ipynb")],
                         capture_output=True, text=True, check=True).stdout
    tree = ast.parse(parameters_cell(read(chapter)).source)
    names = [(n.targets[0] if isinstance(n, ast.Assign) else n.target).id for n in tree.body]
    for name in names:
        line = re.search(rf"^  {name}: (\S+) \(default ([^)]*)\)\s*(.*)$", out, re.M)
        assert line, f"{name} is not listed by papermill --help-notebook:\n{out}"
        kind, _default, inline_help = line.groups()
        assert kind != "None", f"{name} has no type"
        following = out[line.end():].split("\n", 2)[1].strip()
        assert inline_help or following, f"{name} has no help text"


@pytest.mark.slow
def test_a_papermill_run_shows_a_line_per_epoch_and_no_unknown_parameter(tiny_dir, tmp_path):
    """The intro's example (`papermill book/mnist.ipynb out.ipynb -p epochs ... -p n_train ...`),
    on the tiny data: no "unknown parameter" warning, a progress line per epoch in
    `--log-output`, and none of those lines kept by `hwlib report` in a committed chapter."""
    import subprocess
    import sys

    from hwlib import book

    from conftest import tiny_command_env

    out = tmp_path / "mnist.ipynb"
    run = subprocess.run([sys.executable, "-m", "papermill", str(BOOK / "mnist.ipynb"), str(out), "--log-output",
                          "-p", "epochs", "2", "-p", "n_train", "100", "-p", "n_test", "50",
                          "-p", "store", str(tmp_path / "store")], cwd=BOOK, capture_output=True, text=True,
                         env=tiny_command_env(tiny_dir), timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "unknown parameter" not in run.stderr.lower()
    first, last = (len(re.findall(rf"epoch +{e}/2 ", run.stderr)) for e in (1, 2))
    assert first == last >= 8  # every run it trains (at least the base net, 6 more sweep rows, L2), each epoch
    nb = nbformat.read(out, as_version=4)
    assert any(o.get("name") == "stderr" for c in nb.cells for o in c.get("outputs", []))
    kept = [o for c in nb.cells for o in c.get("outputs", []) if book._not_stderr(o)]
    assert kept and not any(o.get("name") == "stderr" for o in kept)


def test_nbval_collects_the_chapters_and_never_build_copies():
    """`pytest --nbval-lax book/` (make test) collects the five chapters only, even with a
    copy left in book/_build by a build or a failed execution (conftest.collect_ignore)."""
    import shutil
    import subprocess
    import sys

    stale = BOOK / "_build" / "failed" / "stale-copy-for-a-test.ipynb"
    stale.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(BOOK / "intro.ipynb", stale)
    try:
        out = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--collect-only", "-q", "book/"],
                             cwd=BOOK.parent, capture_output=True, text=True).stdout
    finally:
        stale.unlink()
    files = {line.split("::")[0] for line in out.splitlines() if "::" in line}
    assert files == {f"book/{c}.ipynb" for c in CHAPTERS}, out[-2000:]
