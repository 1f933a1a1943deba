"""The HTML book in a real browser: Debian's chromium driven by Playwright's Python API.

A session fixture builds the book the way `make html` does (`jupyter-book build book/ -n -W
--keep-going`, rendering the committed executed chapters) into a temporary folder and fails on
any warning; the HTML is served on 127.0.0.1 and every page is opened in headless chromium:

* no console error and no uncaught exception, no failed or 4xx/5xx request;
* nothing is fetched from the internet: every outside request is aborted and fails the test,
  and the output-size formula is still typeset (MathJax is served from the book);
* every image loaded (naturalWidth > 0), no figure leaked as text (`<Figure size ...>`),
  every figure's image has its caption as alt text, and the smallest text of every figure
  and its provenance line each measure at least 10 px as shown (hwlib.plots records both
  in each PNG);
* every table, figure and equation of inventory.INVENTORY (tests/inventory.py) is on its chapter's page,
  numbered ("Table N", "Fig. N"), figures holding a loaded image;
* glued values read as plain text, not bold, and no paragraph (or list item, cell, caption)
  holds more than 4 of them: more belong in a table;
* on a 1280 px wide laptop screen no table is wider than the text column;
* on a 390 px wide phone the page never scrolls sideways; a table wider than the screen scrolls
  inside its box (its last column reachable), shows the fade cue while there is more to the
  right, and keeps its first column in view (sticky) while it scrolls;
* on a 390 px wide phone the header's menu button opens the sidebar with every chapter's link,
  and Escape closes it again;
* at both widths no caption is cut: every line of a table's or figure's caption lies inside the
  box that shows it;
* internal links (and their #fragments) resolve, the search page finds CIFAR, the footer links
  the PDF exactly when `make pdf` has built it (and it downloads);
* without HWLIB_REPO_URL no repository, issue, edit or launch button; with it (a second
  build), the Binder and Colab links of each chapter point at that repository's notebook, and
  the footer links the repository.

Each layout check is a script run in the page; each is also run on a small page made to fail
it, so a check that could not fail would show.

Full-page screenshots of each page, at 1280 and 390 px, land in book/_build/screenshots/ (CI
artifacts).
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

from conftest import unless
from inventory import INVENTORY

ROOT = Path(__file__).resolve().parents[1]
BOOK = Path(os.environ.get("HWLIB_BOOK_DIR") or ROOT / "book").resolve()
CHROMIUM = os.environ.get("HWLIB_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "book" / "_build" / "screenshots"
BUILT_PDF = BOOK / "_build" / "latex" / "hwlib-report.pdf"
PDF_NAME = "hwlib-report.pdf"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
MIN_TEXT_PX = 10  # hwlib.plots.MIN_TEXT_PX
MAX_GLUED = 4  # glued values per paragraph; more belong in a glued table
REPO_URL = "https://github.com/example-owner/hwlib"  # for the build with HWLIB_REPO_URL set

pytestmark = [
    pytest.mark.timeout(600),
    unless(Path(CHROMIUM).exists(), f"no browser at {CHROMIUM}: run `make test-tools` "
                                    "(scripts/install-browser.sh installs Debian's chromium)"),
]


def chapters() -> list[str]:
    """The root page and every chapter of _toc.yml (flat or in parts), in order."""
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    entries = toc.get("chapters", []) + [c for part in toc.get("parts", []) for c in part["chapters"]]
    return [toc["root"], *(c["file"] for c in entries)]


def notebooks() -> list[str]:
    return [name for name in chapters() if (BOOK / f"{name}.ipynb").is_file()]


# --- the build and the server --------------------------------------------------------------


def build(out: Path, env: dict[str, str]) -> Path:
    """`make html`'s build into ``out``; fails on any warning. With a PDF from `make pdf`
    beside it (copied in first), the build links and copies it."""
    if BUILT_PDF.is_file():
        (out / "_build" / "latex").mkdir(parents=True)
        shutil.copy2(BUILT_PDF, out / "_build" / "latex" / PDF_NAME)
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    assert jb, "jupyter-book is not installed (make setup)"
    start = time.monotonic()
    run = subprocess.run([jb, "build", str(BOOK), "-n", "-W", "--keep-going", "--path-output", str(out)],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "NO_COLOR": "1", "TERM": "dumb", **env})
    log = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)
    warnings = [line for line in log.splitlines() if re.search(r"\b(WARNING|ERROR)\b", line)]
    assert run.returncode == 0 and not warnings, (
        f"the book does not build cleanly (exit {run.returncode}, {len(warnings)} warnings):\n"
        + "\n".join(warnings[:40] or log.splitlines()[-40:]))
    print(f"HTML built in {time.monotonic() - start:.1f} s")
    return out / "_build" / "html"


@pytest.fixture(scope="session")
def html_dir(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("book"), {"HWLIB_REPO_URL": ""})


@pytest.fixture(scope="session")
def html_with_repo(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("book-repo"), {"HWLIB_REPO_URL": REPO_URL})


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

    def __init__(self, browser, site: str, path: str, wait_for: str | None = None,
                 viewport: dict[str, int] | None = None):
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
        self.context.route("**/*", functools.partial(self._route, site))
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(
            f"console.error: {m.text} ({m.location.get('url')})"))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught exception: {e}"))
        self.page.on("requestfailed", lambda r: r.url.startswith(site) and self.errors.append(
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


@pytest.fixture(scope="session")
def phone_visits(browser, site):
    """Each chapter page on a 390 px wide phone screen."""
    opened = {name: Visit(browser, site, f"{name}.html", viewport=PHONE) for name in chapters()}
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
        if item.label.startswith("eq-"):  # typeset by MathJax (mjx-container), not raw LaTeX
            found = page.evaluate(f"""() => {{
                const el = document.getElementById("equation-{item.label}");
                return !!(el && el.classList.contains("math") && /\\(\\d+\\)/.test(el.textContent)
                          && el.querySelector("mjx-container mjx-math") && !el.textContent.includes("\\\\frac"));
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
def test_footer_links_the_pdf_only_when_it_is_there(visits, html_dir, name):
    hrefs = visits[name].page.eval_on_selector_all(
        "footer a[href], .extra_footer a[href]", "els => els.map(e => e.getAttribute('href'))")
    if (html_dir / PDF_NAME).is_file():
        assert PDF_NAME in hrefs, f"the PDF is built but {name}.html's footer does not link it: {hrefs}"
    else:
        assert PDF_NAME not in hrefs, f"{name}.html links {PDF_NAME}, which this build does not have"


@pytest.mark.parametrize("name", chapters())
def test_figures_have_their_caption_as_alt_text(visits, name):
    figures = visits[name].page.evaluate("""() => [...document.querySelectorAll("main figure")].map(f => ({
        id: f.id, alt: (f.querySelector("img") || {}).alt,
        caption: (f.querySelector("figcaption .caption-text") || {}).textContent}))""")
    bad = [f["id"] for f in figures if not f["caption"] or " ".join(f["alt"].split()) != " ".join(f["caption"].split())]
    assert bad == [], f"figures on {name}.html whose image's alt text is not their caption: {bad}"
    images = visits[name].page.eval_on_selector_all("main img", "els => els.map(e => [e.alt, e.src])")
    assert not [src for alt, src in images if not alt or alt.endswith(".png")], "an image without real alt text"


TEXT_RECORDS = {"min-text": "smallest text", "provenance": "provenance line"}  # hwlib.plots.png's records


def png_text_px(url: str) -> dict[str, float]:
    """The text heights in image pixels that hwlib.plots.png records in a PNG: its smallest
    text and its provenance line (TEXT_RECORDS); a record the PNG lacks is left out."""
    import io

    from PIL import Image

    status, _, body = fetch(url)
    assert status == 200, url
    with Image.open(io.BytesIO(body)) as image:
        return {kind: float(image.text[f"hwlib:{kind}-px"]) for kind in TEXT_RECORDS if f"hwlib:{kind}-px" in image.text}


@pytest.mark.parametrize("name", chapters())
def test_figure_text_is_at_least_10_px_as_shown(visits, name):
    """The smallest text and, by itself, the provenance line under each figure (a figure
    without one fails: every figure names its runs)."""
    shown = visits[name].page.evaluate("""() => [...document.querySelectorAll("main figure img")].map(i => ({
        src: i.currentSrc || i.src, shown: i.getBoundingClientRect().width, natural: i.naturalWidth}))""")
    unrecorded, small = [], []
    for image in shown:
        records, file = png_text_px(image["src"]), image["src"].rsplit("/", 1)[-1]
        for kind, what in TEXT_RECORDS.items():
            if kind not in records:
                unrecorded.append(f"{file} ({what})")
            elif records[kind] * image["shown"] / image["natural"] < MIN_TEXT_PX:
                small.append(f"{file}: {what} {records[kind] * image['shown'] / image['natural']:.1f} px")
    assert unrecorded == [], (f"{name}.html has figures made before hwlib.plots recorded these text sizes, or "
                              f"without a provenance line (re-execute the chapter with `make report`): {unrecorded}")
    assert small == [], f"figures on {name}.html with text under {MIN_TEXT_PX} px as shown: {small}"


# --- the layout checks: scripts run in a page, each returning what it finds wrong -----------------

# Tables wider than their box or than the article's text column (its content box).
WIDE_TABLES = """() => {
    const article = document.querySelector(".bd-article") || document.querySelector("main");
    const style = getComputedStyle(article);
    const column = article.getBoundingClientRect().right - parseFloat(style.paddingRight);
    return [...document.querySelectorAll("main table")].map(t => {
        const rect = t.getBoundingClientRect(), box = t.parentElement;
        const caption = t.querySelector("caption");
        return {id: t.id || (caption ? caption.textContent.trim().slice(0, 40) : "a table"),
                width: Math.round(rect.width), room: Math.min(box.clientWidth, Math.round(column - rect.left)),
                right: rect.right, column};
    }).filter(t => t.width > t.room + 1 || t.right > t.column + 1);
}"""

# How far the page scrolls sideways (0: not at all).
SIDEWAYS = "() => document.scrollingElement.scrollWidth - window.innerWidth"

# Blocks (paragraphs, list items, cells, captions) holding more than `max` glued values.
CROWDED = """(max) => {
    const counts = new Map();
    for (const value of document.querySelectorAll("main .pasted-text, main .pasted-inline")) {
        const block = value.closest("p, li, dd, dt, td, th, caption, figcaption, h1, h2, h3, h4, h5, h6, div");
        counts.set(block, (counts.get(block) || 0) + 1);
    }
    return [...counts].filter(([, n]) => n > max).map(([block, n]) =>
        `${n} glued values in <${block.tagName.toLowerCase()}> "${block.textContent.trim().replace(/\\s+/g, " ").slice(0, 80)}..."`);
}"""

# Captions with a line outside the box that shows it (the nearest ancestor that clips, and the
# screen), or with text cut inside the caption itself. The hidden "#" link is not text.
CUT_CAPTIONS = """() => [...document.querySelectorAll("main caption, main figcaption")].flatMap(c => {
    let left = 0, right = window.innerWidth;
    for (let el = c.parentElement; el && el !== document.body; el = el.parentElement) {
        if (getComputedStyle(el).overflowX !== "visible") {
            const r = el.getBoundingClientRect();
            left = Math.max(left, r.left + el.clientLeft);
            right = Math.min(right, r.left + el.clientLeft + el.clientWidth);
        }
    }
    const walker = document.createTreeWalker(c, NodeFilter.SHOW_TEXT);
    const rects = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (!node.textContent.trim() || node.parentElement.closest(".headerlink")) continue;
        const range = document.createRange();
        range.selectNodeContents(node);
        rects.push(...[...range.getClientRects()].filter(r => r.width > 0));
    }
    const outside = rects.filter(r => r.right > right + 1 || r.left < left - 1);
    if (!outside.length && c.scrollWidth <= c.clientWidth + 1) return [];
    const text = c.textContent.trim().replace(/\\s+/g, " ").slice(0, 50);
    return [`"${text}...": text runs to ${Math.round(Math.max(...rects.map(r => r.right)))} px, ` +
            `the box shows ${Math.round(left)}-${Math.round(right)} px`];
})"""


@pytest.fixture()
def scratch(browser):
    """A blank page to run a check on a page made to fail it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def test_layout_checks_can_fail(scratch):
    wide_cell = '<td style="white-space: nowrap">' + "wide " * 80 + "</td>"
    scratch.set_content(f"""<main><article class="bd-article" style="width: 600px; padding: 0 2rem">
        <p>{'<span class="pasted-text">1</span>, ' * (MAX_GLUED + 1)}</p>
        <ul><li>{'<span class="pasted-text">2</span> ' * MAX_GLUED}</li></ul>
        <div style="overflow-x: auto"><table id="wide"><caption>{"a caption that does not wrap " * 8}</caption>
        <tr>{wide_cell}</tr></table></div>
        <div style="overflow-x: auto"><table id="fits"><caption>a short caption</caption><tr><td>1</td></tr></table></div>
        </article></main>""")
    assert [t["id"] for t in scratch.evaluate(WIDE_TABLES)] == ["wide"]
    assert len(scratch.evaluate(CROWDED, MAX_GLUED)) == 1
    assert len(scratch.evaluate(CUT_CAPTIONS)) == 1
    scratch.set_viewport_size(PHONE)
    scratch.set_content('<main><div style="width: 600px">a page wider than a phone</div></main>')
    assert scratch.evaluate(SIDEWAYS) > 0


@pytest.mark.parametrize("name", chapters())
def test_tables_fit_the_text_column_on_a_laptop(visits, name):
    wide = visits[name].page.evaluate(WIDE_TABLES)
    assert wide == [], "tables wider than the text column at 1280 px on {}.html: {}".format(
        name, ", ".join(f"{t['id']} ({t['width']} px in {t['room']} px)" for t in wide))


@pytest.mark.parametrize("name", chapters())
def test_the_page_does_not_scroll_sideways_on_a_phone(phone_visits, name):
    extra = phone_visits[name].page.evaluate(SIDEWAYS)
    assert extra <= 0, f"{name}.html scrolls {extra} px sideways on a {PHONE['width']} px phone"


@pytest.mark.parametrize("name", chapters())
def test_at_most_4_glued_values_per_paragraph(visits, name):
    crowded = visits[name].page.evaluate(CROWDED, MAX_GLUED)
    assert crowded == [], (f"{len(crowded)} paragraphs on {name}.html hold more than {MAX_GLUED} glued values "
                           "(glue them as a table, or keep the numbers a reader remembers):\n" + "\n".join(crowded))


@pytest.mark.parametrize("name", chapters())
@pytest.mark.parametrize("screen", ["laptop", "phone"])
def test_captions_are_not_cut(visits, phone_visits, name, screen):
    cut = (visits if screen == "laptop" else phone_visits)[name].page.evaluate(CUT_CAPTIONS)
    assert cut == [], f"captions cut on {name}.html ({screen}):\n" + "\n".join(cut)


@pytest.mark.parametrize("name", chapters())
def test_glued_values_are_plain_text(visits, name):
    weights = visits[name].page.eval_on_selector_all(
        "main span.pasted-text", "els => els.map(e => getComputedStyle(e).fontWeight)")
    assert all(int(w) < 600 for w in weights), f"bold glued values on {name}.html"


@pytest.mark.parametrize("name", chapters())
def test_tables_scroll_with_a_cue_and_a_sticky_first_column_on_a_phone(phone_visits, name):
    page = phone_visits[name].page
    tables = page.evaluate("""() => [...document.querySelectorAll("main table")].map(t => {
        const box = t.parentElement, caption = t.querySelector("caption .caption-text");
        const wide = box.scrollWidth > box.clientWidth + 1;
        const cue = getComputedStyle(box).maskImage;
        const boxLeft = box.getBoundingClientRect().left + box.clientLeft;
        box.scrollLeft = box.scrollWidth;
        const cells = [...t.querySelectorAll("tr:first-child > *")];
        const last = cells.length ? cells[cells.length - 1].getBoundingClientRect() : null;
        const first = t.querySelector("tbody tr > :first-child");
        const out = {id: t.id, wide, cue, overflow: getComputedStyle(box).overflowX,
                     lastRight: last && last.right, captionRight: caption && caption.getBoundingClientRect().right,
                     firstOff: first ? first.getBoundingClientRect().left - boxLeft : 0};
        box.scrollLeft = 0;
        return out;
    })""")
    width = PHONE["width"]
    problems = []
    for t in tables:
        if t["wide"] and (t["overflow"] not in ("auto", "scroll") or "gradient" not in t["cue"]):
            problems.append(f"{t['id']}: wider than the screen without a scrolling box and its cue")
        if t["lastRight"] is not None and t["lastRight"] > width + 1:
            problems.append(f"{t['id']}: the last column ends at {t['lastRight']:.0f} px, past the screen")
        if t["captionRight"] is not None and t["captionRight"] > width + 1:
            problems.append(f"{t['id']}: the caption runs to {t['captionRight']:.0f} px, past the screen")
        if t["wide"] and abs(t["firstOff"]) > 1:
            problems.append(f"{t['id']}: the first column scrolls out of view ({t['firstOff']:.0f} px from the box's edge)")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("name", chapters())
def test_screenshot(visits, phone_visits, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for suffix, visit in (("", visits[name]), ("-390", phone_visits[name])):
        path = SCREENSHOTS / f"{name}{suffix}.png"
        visit.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000


def test_the_menu_button_opens_the_chapter_list_on_a_phone(browser, site):
    """The menu button a phone shows (sphinx-book-theme draws two; pydata-sphinx-theme 0.17 wires
    only the first, and book/_static/hwlib.js passes the other's clicks on) opens the sidebar with
    a link to every chapter; Escape closes it."""
    root = chapters()[0]
    visit = Visit(browser, site, f"{root}.html", viewport=PHONE)
    try:
        page = visit.page
        links = {name: page.locator(f'nav.bd-links a[href="{name}.html"]') for name in chapters()[1:]}

        def shown() -> list[str]:
            return [name for name, link in links.items() if link.is_visible()]

        assert shown() == [], f"chapter links already shown on {root}.html at {PHONE['width']} px: {shown()}"
        buttons = page.locator(".primary-toggle:visible")
        assert buttons.count() == 1, f"{buttons.count()} menu buttons shown at {PHONE['width']} px, expected 1"
        buttons.click()
        page.wait_for_timeout(500)
        assert shown() == chapters()[1:], (f"the menu button on {root}.html at {PHONE['width']} px shows only "
                                          f"{shown()} of the chapters {chapters()[1:]}")
        page.keyboard.press("Escape")
        page.wait_for_timeout(500)
        assert shown() == [], f"Escape left the menu open: {shown()}"
        assert visit.errors == [], "\n".join(visit.errors)
    finally:
        visit.close()


# --- repository and launch buttons ------------------------------------------------------------

OUTSIDE_BUTTONS = ("mybinder.org", "colab.research.google.com", "github.com")


@pytest.mark.parametrize("name", chapters())
def test_no_repository_or_launch_buttons_without_the_setting(html_dir, name):
    page = (html_dir / f"{name}.html").read_text()
    found = [host for host in OUTSIDE_BUTTONS if f"https://{host}" in page]
    assert found == [], f"{name}.html links {found} although HWLIB_REPO_URL is not set"


@pytest.mark.parametrize("name", notebooks())
def test_launch_buttons_open_the_chapter_from_the_repository(html_with_repo, name):
    page = (html_with_repo / f"{name}.html").read_text()
    repo = REPO_URL.removeprefix("https://github.com/")
    expected = [
        f"https://mybinder.org/v2/gh/{repo}/main?urlpath=tree/book/{name}.ipynb",
        f"https://colab.research.google.com/github/{repo}/blob/main/book/{name}.ipynb",
        f"{REPO_URL}/edit/main/book/{name}.ipynb",
        f'href="{REPO_URL}"',
        f'<a class="hwlib-repo" href="{REPO_URL}">',  # the footer's link to the repository
    ]
    missing = [url for url in expected if url not in page]
    assert missing == [], f"{name}.html lacks {missing}"


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
