"""Packaging: pyproject.toml, environment.yml and constraints.txt agree, and install."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def env_pip_list() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pips = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pips) == 1, "environment.yml needs one pip: section"
    return pips[0]["pip"]


def test_environment_yml_has_the_same_pins_as_pyproject():
    project = pyproject()["project"]
    wanted = {Requirement(r).name: str(Requirement(r).specifier)
              for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    listed = {Requirement(r).name: str(Requirement(r).specifier)
              for r in env_pip_list() if not r.startswith("-e")}
    assert listed == wanted
    assert "-e ." in env_pip_list()


def test_key_pins():
    deps = {Requirement(r).name: Requirement(r) for r in pyproject()["project"]["dependencies"]}
    assert str(deps["jupyter-book"].specifier) in (">=1.0.4,<2", "<2,>=1.0.4")
    assert str(deps["tensorflow-cpu"].specifier) == "==2.21.0"
    assert str(deps["keras"].specifier) == "==3.15.1"
    assert str(deps["sphinxcontrib-bibtex"].specifier) == "==2.7.0"  # the book's bibliography


def test_the_books_sphinx_extensions_come_from_pinned_packages():
    """Every extension book/_config.yml loads is the book's own (book/_ext) or importable
    from a package that pyproject.toml pins or jupyter-book brings."""
    import importlib.util

    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())["sphinx"]
    local = set(config.get("local_extensions", {}))
    missing = [name for name in config["config"]["extensions"]
               if name not in local and importlib.util.find_spec(name) is None]
    assert missing == []
    assert "sphinxcontrib.bibtex" in config["config"]["extensions"]


def test_constraints_satisfy_the_pins():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[Requirement(name).name.lower().replace("_", "-")] = version
    for r in env_pip_list():
        if r.startswith("-e"):
            continue
        req = Requirement(r)
        version = pins.get(req.name.lower().replace("_", "-"))
        assert version, f"{req.name} is not in constraints.txt (run `make lock`)"
        assert req.specifier.contains(version), f"{req.name}=={version} violates {req.specifier}"


def test_environment_pip_list_resolves_against_this_venv(tmp_path):
    """`pip install` of environment.yml's pip list is satisfied by what the tests run on."""
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("\n".join(r for r in env_pip_list() if not r.startswith("-e")) + "\n")
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index",
                          "-r", str(reqs)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Would install" not in out.stdout, out.stdout


def test_the_declared_license_is_in_the_repository():
    project = pyproject()["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_the_readme_stays_short_and_names_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 8 * 1024, "README.md is over 8 KB: move details to docs/"
    assert "make book" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()  # CI runs the README's test command
