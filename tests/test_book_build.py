"""`jupyter-book build book/` needs the Python environment alone: no Node/npm, no data, no network.

A copy of book/ (self-contained: the committed chapters are executed, its extension reads
nothing outside book/ and the installed packages) is built the way `make html` does
(`jupyter-book build -n -W --keep-going`, the venv's jupyter-book) with

* every folder that holds ``node``, ``nodejs``, ``npm`` or ``npx`` taken off PATH;
* HWLIB_DATA_DIR pointing at an empty folder (and HWLIB_NO_DOWNLOAD=1);
* the network blocked: always by a ``sitecustomize`` on PYTHONPATH that refuses (and records)
  any connection or name lookup beyond loopback, and in addition, where ``unshare -rn`` works,
  inside a new network namespace that has only loopback. A probe run the same way first shows
  that a connection out fails.

The build must succeed, try no connection, and serve MathJax from the book: the entry file
that sphinx-mathjax-offline points ``mathjax_path`` at is in ``_static/mathjax/``, the pages
with formulas load it from there, and no page loads a script from anywhere but the book.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NODE_TOOLS = ("node", "nodejs", "npm", "npx")
MATHJAX_ENTRY = "_static/mathjax/tex-chtml.js"  # sphinx-mathjax-offline's mathjax_path
OUTSIDE = ("10.255.255.1", 80)  # any non-loopback address; never reached

# Imported by every Python process of the build (PYTHONPATH): connections and name lookups
# beyond loopback raise, and each attempt is appended to $HWLIB_NET_LOG.
SITECUSTOMIZE = '''\
import ipaddress, os, socket

_LOG = os.environ["HWLIB_NET_LOG"]
_LOCAL = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _loopback(host):
    if host is None or str(host).lower() in _LOCAL:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what):
    with open(_LOG, "a") as log:
        log.write(what + "\\n")
    raise OSError(f"network blocked by the book-build test: {what}")


def _guard(method):
    def guarded(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            _refuse(f"connect {address!r}")
        return method(self, address, *args)
    return guarded


_getaddrinfo = socket.getaddrinfo


def _lookup(host, *args, **kwargs):
    if not _loopback(host if isinstance(host, str) or host is None else host.decode()):
        _refuse(f"getaddrinfo {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guard(socket.socket.connect)
socket.socket.connect_ex = _guard(socket.socket.connect_ex)
socket.getaddrinfo = _lookup
'''

PROBE = f"""\
import socket
s = socket.socket()
s.settimeout(5)
try:
    s.connect({OUTSIDE!r})
except OSError as e:
    print("blocked:", e)
else:
    print("CONNECTED")
"""

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def without_node(path: str) -> str:
    """PATH minus every folder that holds a Node tool."""
    keep = [d for d in path.split(os.pathsep)
            if d and not any(os.access(Path(d) / tool, os.X_OK) for tool in NODE_TOOLS)]
    return os.pathsep.join(keep)


def network_namespace() -> list[str]:
    """``unshare -rn`` (a new user and network namespace: loopback only) when it works here."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    ok = subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0
    return [unshare, "-rn"] if ok else []


@pytest.fixture(scope="module")
def offline(tmp_path_factory) -> tuple[list[str], dict[str, str], Path]:
    """(command prefix, environment, connection log) of a run with Python alone, offline."""
    top = tmp_path_factory.mktemp("offline")
    (top / "site").mkdir()
    (top / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (top / "empty-data").mkdir()
    net_log = top / "net.log"
    net_log.touch()
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "HWLIB_REPO_URL", "COVERAGE_PROCESS_START")}
    env.update(PATH=os.pathsep.join([bin_dir, without_node(env.get("PATH", os.defpath))]),
               PYTHONPATH=str(top / "site"), HWLIB_NET_LOG=str(net_log),
               HWLIB_DATA_DIR=str(top / "empty-data"), HWLIB_NO_DOWNLOAD="1",
               NO_COLOR="1", TERM="dumb")
    prefix = network_namespace()
    print(f"network blocked by sitecustomize{' and unshare -rn' if prefix else ''}")
    return prefix, env, net_log


def test_the_environment_has_no_node_and_no_network(offline):
    prefix, env, net_log = offline
    for tool in NODE_TOOLS:
        assert shutil.which(tool, path=env["PATH"]) is None, f"{tool} is still on PATH"
    probe = subprocess.run([*prefix, sys.executable, "-c", PROBE], capture_output=True, text=True,
                           env=env, timeout=60)
    assert probe.returncode == 0 and probe.stdout.startswith("blocked:"), probe.stdout + probe.stderr
    assert "connect" in net_log.read_text()  # the sitecustomize saw and refused it
    net_log.write_text("")


def test_the_book_builds_with_python_alone(offline, tmp_path):
    prefix, env, net_log = offline
    book = tmp_path / "book"
    shutil.copytree(BOOK, book, ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints", "__pycache__"))
    jb = Path(sys.executable).parent / "jupyter-book"
    assert jb.is_file(), f"{jb} is missing (make setup)"
    net_log.write_text("")

    start = time.monotonic()
    run = subprocess.run([*prefix, str(jb), "build", str(book), "-n", "-W", "--keep-going"],
                         capture_output=True, text=True, env=env, timeout=1100, cwd=tmp_path)
    print(f"HTML built with Python alone in {time.monotonic() - start:.1f} s")
    log = run.stdout + run.stderr
    assert run.returncode == 0, "\n".join(log.splitlines()[-60:])
    assert net_log.read_text() == "", f"the build tried the network:\n{net_log.read_text()}"

    html = book / "_build" / "html"
    assert (html / MATHJAX_ENTRY).is_file(), f"{MATHJAX_ENTRY} is not in the HTML output"
    loads_mathjax = []
    for page in sorted(html.glob("*.html")):
        for src in re.findall(r'<script[^>]*\ssrc="([^"]+)"', page.read_text()):
            assert not re.match(r"(https?:)?//", src), f"{page.name} loads a script from outside: {src}"
            target = (page.parent / src.split("?")[0]).resolve()
            assert target.is_file(), f"{page.name} loads {src}, which is not in the output"
            if target == (html / MATHJAX_ENTRY).resolve():
                loads_mathjax.append(page.name)
    assert loads_mathjax, f"no page loads {MATHJAX_ENTRY}"
    with_math = [p.name for p in html.glob("*.html") if 'class="math' in p.read_text()]
    assert with_math and set(with_math) <= set(loads_mathjax), (with_math, loads_mathjax)
