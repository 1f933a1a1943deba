"""The HTML book in a real browser: Debian's chromium driven by Playwright's Python API.

A session fixture builds the book the way `make html` does (`jupyter-book build book/ -n -W
--keep-going`, rendering the committed executed chapters) into a temporary folder and fails on
any warning; the HTML is served on 127.0.0.1 and every page is opened in headless chromium:

* no console error and no uncaught exception, no failed or 4xx/5xx request;
* nothing is fetched from the internet: the only outside request allowed is MathJax from its
  CDN (Sphinx's default), answered locally with an empty script; anything else is aborted and
  fails the test;
* every image loaded (naturalWidth > 0), no figure leaked as text (`<Figure size ...>`);
* every table, figure and equation of hwlib.inventory.INVENTORY is on its chapter's page,
  numbered ("Table N", "Fig. N"), figures holding a loaded image;
* internal links (and their #fragments) resolve, the search page finds CIFAR, the footer links
  the PDF (fetched too when `make pdf` has built it).

Full-page screenshots of each page land in book/_build/screenshots/ (CI artifacts).
`HWLIB_BOOK_DIR` points the test at another book folder; `HWLIB_CHROMIUM` at another browser.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from hwlib.inventory import INVENTORY

from conftest import unless

ROOT = Path(__file__).resolve().parents[1]
BOOK = Path(os.environ.get("HWLIB_BOOK_DIR") or ROOT / "book").resolve()
CHROMIUM = os.environ.get("HWLIB_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "book" / "_build" / "screenshots"
BUILT_PDF = BOOK / "_build" / "latex" / "hwlib-report.pdf"
PDF_NAME = "hwlib-report.pdf"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Outside resources the pages may ask for, answered locally with an empty body.
ALLOWED_OUTSIDE = {"https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js": "application/javascript"}

pytestmark = [
    pytest.mark.timeout(600),
    unless(Path(CHROMIUM).exists(), f"no browser at {CHROMIUM}: run `make test-tools` "
                                    "(scripts/install-browser.sh installs Debian's chromium)"),
]


def chapters() -> list[str]:
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    return [toc["root"], *(c["file"] for c in toc.get("chapters", []))]


# --- the build and the server --------------------------------------------------------------


@pytest.fixture(scope="session")
def html_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    assert jb, "jupyter-book is not installed (make setup)"
    start = time.monotonic()
    run = subprocess.run([jb, "build", str(BOOK), "-n", "-W", "--keep-going", "--path-output", str(out)],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "NO_COLOR": "1", "TERM": "dumb"})
    log = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)
    warnings = [line for line in log.splitlines() if re.search(r"\b(WARNING|ERROR)\b", line)]
    assert run.returncode == 0 and not warnings, (
        f"the book does not build cleanly (exit {run.returncode}, {len(warnings)} warnings):\n"
        + "\n".join(warnings[:40] or log.splitlines()[-40:]))
    html = out / "_build" / "html"
    print(f"HTML built in {time.monotonic() - start:.1f} s")
    if BUILT_PDF.is_file():
        shutil.copy2(BUILT_PDF, html / PDF_NAME)
    return html


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site(html_dir) -> str:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(html_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Visit:
    """One page load with everything the browser reported along the way."""

    def __init__(self, browser, site: str, path: str, wait_for: str | None = None):
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", functools.partial(self._route, site))
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(
            f"console.error: {m.text} ({m.location.get('url')})"))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught exception: {e}"))
        self.page.on("requestfailed", lambda r: r.url not in ALLOWED_OUTSIDE and self.errors.append(
            f"request failed: {r.url} ({r.failure})"))
        self.page.on("response", lambda r: r.status >= 400 and self.errors.append(f"HTTP {r.status}: {r.url}"))
        self.page.goto(site + path, wait_until="load")
        if wait_for:
            self.page.wait_for_selector(wait_for, timeout=30_000)
        self.page.wait_for_load_state("networkidle")

    def _route(self, site, route):
        url = route.request.url
        if url.startswith(site) or url.startswith("data:"):
            route.continue_()
        elif url in ALLOWED_OUTSIDE:
            route.fulfill(status=200, body="", content_type=ALLOWED_OUTSIDE[url])
        else:
            self.outside.append(url)
            route.abort()

    def close(self):
        self.context.close()


@pytest.fixture(scope="session")
def visits(browser, site):
    """Each chapter page, opened once for all the page tests."""
    opened = {}
    for name in chapters():
        opened[name] = Visit(browser, site, f"{name}.html")
    yield opened
    for visit in opened.values():
        visit.close()


# --- the pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", chapters())
def test_page_loads_cleanly(visits, name):
    visit = visits[name]
    assert visit.errors == [], "\n".join(visit.errors)
    assert visit.outside == [], f"{name}.html reaches out to the internet: {visit.outside}"


@pytest.mark.parametrize("name", chapters())
def test_images_load_and_figures_are_images(visits, name):
    page = visits[name].page
    images = page.evaluate("""async () => {
        const imgs = [...document.images];
        await Promise.all(imgs.map(i => i.decode().catch(() => null)));
        return imgs.map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth}));
    }""")
    broken = [i["src"] for i in images if i["width"] == 0]
    assert broken == [], f"images that did not load on {name}.html: {broken}"
    text = page.inner_text("main")
    assert "<Figure size" not in text and "<matplotlib" not in text, "a figure rendered as text"


@pytest.mark.parametrize("name", chapters())
def test_inventory_is_on_its_page(visits, name):
    page = visits[name].page
    items = [item for item in INVENTORY if item.chapter == name]
    missing = []
    for item in items:
        if item.label.startswith("eq-"):
            found = page.evaluate(f"""() => {{
                const el = document.getElementById("equation-{item.label}");
                return el && el.classList.contains("math") && /\\(\\d+\\)/.test(el.textContent);
            }}""")
        elif item.label.startswith("tab-"):
            found = page.evaluate(f"""() => {{
                const el = document.getElementById("{item.label}");
                const num = el && el.querySelector("caption .caption-number");
                return !!(el && el.tagName === "TABLE" && num && /^Table \\d+/.test(num.textContent.trim())
                          && el.querySelectorAll("tbody tr").length > 0);
            }}""")
        elif item.label.startswith("fig-"):
            found = page.evaluate(f"""() => {{
                const el = document.getElementById("{item.label}");
                const num = el && el.querySelector("figcaption .caption-number");
                const img = el && el.querySelector("img");
                return !!(el && el.tagName === "FIGURE" && num && /^Fig\\. \\d+/.test(num.textContent.trim())
                          && img && img.naturalWidth > 0);
            }}""")
        else:
            raise AssertionError(f"unknown kind of label {item.label}")
        if not found:
            missing.append(f"{item.id} {item.label}")
    assert missing == [], f"not rendered (or not numbered) on {name}.html: {missing}"


def test_every_inventory_chapter_is_a_page():
    assert {item.chapter for item in INVENTORY} <= set(chapters())


@pytest.mark.parametrize("name", chapters())
def test_footer_links_the_pdf(visits, name):
    hrefs = visits[name].page.eval_on_selector_all(
        "footer a[href], .extra_footer a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert PDF_NAME in hrefs, f"no link to {PDF_NAME} in the footer of {name}.html: {hrefs}"


@pytest.mark.parametrize("name", chapters())
def test_screenshot(visits, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    visits[name].page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


# --- links, search, the PDF -------------------------------------------------------------------


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, "", b""


def test_internal_links_resolve(visits, site, html_dir):
    links: dict[str, set[str]] = {}
    for name, visit in visits.items():
        for href in visit.page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            if href.startswith(site):
                links.setdefault(href, set()).add(name)
    assert links, "no internal links found"
    pages: dict[str, str] = {}
    bad = []
    for href, where in sorted(links.items()):
        url, _, fragment = href.partition("#")
        url = url.split("?")[0]
        if url.endswith("/" + PDF_NAME) and not (html_dir / PDF_NAME).exists():
            continue  # built by `make pdf`, checked by test_pdf_download when there
        if url not in pages:
            status, _, body = fetch(url)
            pages[url] = body.decode("utf-8", "replace") if status == 200 else None
            if status != 200:
                bad.append(f"{href} (from {', '.join(sorted(where))}): HTTP {status}")
                continue
        body = pages[url]
        if fragment and body is not None and url.endswith(".html"):
            target = urllib.parse.unquote(fragment)
            if not re.search(rf'\b(id|name)="{re.escape(target)}"', body):
                bad.append(f"{href} (from {', '.join(sorted(where))}): no #{target} there")
    assert bad == [], "\n".join(bad)


def test_search_finds_cifar(browser, site):
    visit = Visit(browser, site, "search.html?q=CIFAR", wait_for="#search-results ul.search li")
    try:
        results = visit.page.eval_on_selector_all("#search-results ul.search li",
                                                  "els => els.map(e => e.innerText)")
        assert results, "no search results for CIFAR"
        assert any("CIFAR" in r for r in results), results
        assert visit.errors == [] and visit.outside == [], visit.errors + visit.outside
    finally:
        visit.close()


def test_index_redirects_to_the_first_chapter(browser, site):
    visit = Visit(browser, site, "index.html")
    try:
        visit.page.wait_for_url(re.compile(rf"{re.escape(chapters()[0])}\.html"), timeout=15_000)
        assert visit.errors == [] and visit.outside == [], visit.errors + visit.outside
    finally:
        visit.close()


def test_pdf_download(site, html_dir):
    if not (html_dir / PDF_NAME).exists():
        pytest.skip(f"no PDF built here ({BUILT_PDF} is made by `make pdf`)")
    status, kind, body = fetch(site + PDF_NAME)
    assert status == 200 and body.startswith(b"%PDF"), (status, kind, body[:20])
