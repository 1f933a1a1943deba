"""The book's own Sphinx extension: what Jupyter Book's configuration cannot say by itself.

* **Alt text**: every image in a figure gets the figure's caption as its alt text (a
  notebook output's image would otherwise say only its hash file name).
* **Offline math**: MathJax is served from the book (``mathjax_path`` in ``_config.yml``
  points into ``_static/mathjax``): the pinned npm package in ``scripts/mathjax``
  (``make mathjax`` runs ``npm ci`` there) is copied into the HTML output.
* **The PDF link**: the footer links ``hwlib-report.pdf`` only when ``make pdf`` has
  built it (``<build>/latex/hwlib-report.pdf`` beside the HTML folder), and the PDF is
  then copied into the HTML, so no build ships a dead link.
* **The repository**: ``HWLIB_REPO_URL`` (e.g. ``https://github.com/OWNER/hwlib``) is the
  one setting for the repository, issue and edit buttons and for the Binder and Colab
  launch buttons (``launch_buttons`` in ``_config.yml``); unset, they are left out.
* **The PDF's structure**: the root page (the intro) becomes an unnumbered preface, the
  other chapters are numbered from 1, and the references close the book (see
  :func:`latex_front_and_back_matter`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.errors import ConfigError
from sphinx.util import logging

LOG = logging.getLogger(__name__)
REPO_ENV = "HWLIB_REPO_URL"
PDF_NAME = "hwlib-report.pdf"
PDF_LINK = f'<p><a class="hwlib-pdf" href="{PDF_NAME}">Download the book as PDF</a>.</p>'
MATHJAX_SOURCE = Path(__file__).resolve().parents[2] / "scripts" / "mathjax" / "node_modules" / "mathjax" / "es5"
# What tex-mml-chtml.js loads: itself, its fonts, TeX extensions on demand, the menu and
# the accessibility parts the menu can switch on.
MATHJAX_PARTS = ("tex-mml-chtml.js", "output/chtml", "input", "a11y", "adaptors", "sre", "ui")
BUTTONS = ("use_repository_button", "use_issues_button", "use_edit_page_button")
LAUNCHERS = ("binderhub_url", "colab_url", "jupyterhub_url", "deepnote_url")
BACK_MATTER = "bibliography"  # a document of this name is unnumbered back matter in the PDF


# --- alt text --------------------------------------------------------------------------------


def caption_alt_text(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Give each image inside a captioned figure the caption (without its number) as alt
    text, unless the source gave one; run after references resolve, so a caption's
    "{numref}" reads as it prints."""
    for figure in doctree.findall(nodes.figure):
        captions = list(figure.findall(nodes.caption))
        if not captions:
            continue
        text = " ".join(captions[0].astext().split())
        for image in figure.findall(nodes.image):
            if not image.get("alt") or image["alt"] == image.get("uri"):
                image["alt"] = text


# --- the HTML: MathJax, PDF link, repository and launch buttons --------------------------------


def is_html(app: Sphinx) -> bool:
    return app.builder.format == "html"


def built_pdf(app: Sphinx) -> Path:
    """Where ``make pdf`` leaves the PDF: the latex folder beside this HTML output."""
    return Path(app.outdir).parent / "latex" / PDF_NAME


def configure_html(app: Sphinx, config) -> None:
    """Buttons from ``HWLIB_REPO_URL`` and the PDF link when the PDF is there (the theme's
    options; only an HTML build reads them, and the builder is not known yet here)."""
    theme = config.html_theme_options
    url = os.environ.get(REPO_ENV, "").strip().rstrip("/")
    if url:
        if not url.startswith(("https://", "http://")):
            raise ConfigError(f"{REPO_ENV} must be the repository's web address "
                              f"(https://github.com/OWNER/REPO), got {url!r}.")
        theme["repository_url"] = url
        theme.update(dict.fromkeys(BUTTONS, True))
    else:
        theme.pop("repository_url", None)
        theme.update(dict.fromkeys(BUTTONS, False))
        theme["launch_buttons"] = {k: v for k, v in theme.get("launch_buttons", {}).items() if k not in LAUNCHERS}
    if built_pdf(app).is_file():
        theme["extra_footer"] = theme.get("extra_footer", "") + PDF_LINK


def check_mathjax(app: Sphinx) -> None:
    if is_html(app) and not (MATHJAX_SOURCE / MATHJAX_PARTS[0]).is_file():
        raise ConfigError(f"MathJax is not installed in {MATHJAX_SOURCE.parents[2]}: run `make mathjax` "
                          "(npm ci there), so the book's formulas render without the internet.")


def copy_assets(app: Sphinx, exception: Exception | None) -> None:
    """After an HTML build: MathJax into ``_static/mathjax``, and the PDF when built."""
    if exception is not None or not is_html(app):
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        source = MATHJAX_SOURCE / part
        if source.is_dir():
            shutil.copytree(source, target / part, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)
    if built_pdf(app).is_file():
        shutil.copy2(built_pdf(app), Path(app.outdir) / PDF_NAME)


# --- the PDF's structure -------------------------------------------------------------------------


def _unnumbered(section: nodes.section) -> list[nodes.Node]:
    """``section`` between raw LaTeX that turns section numbering off and back on (the
    chapter counter does not advance for an unnumbered chapter)."""
    off = nodes.raw("", "\\edef\\hwlibsecnumdepth{\\the\\value{secnumdepth}}\\setcounter{secnumdepth}{-1}\n",
                    format="latex")
    on = nodes.raw("", "\\setcounter{secnumdepth}{\\hwlibsecnumdepth}\n", format="latex")
    return [off, section, on]


def latex_front_and_back_matter(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Shape the PDF: the root page is an unnumbered preface, the chapters are 1, 2, ...

    Sphinx's LaTeX writer takes the root document's title as the book's title and skips
    it, so the root page's sections became chapters of their own ("Chapter One" for the
    intro's first section) and its label (``intro``) was never defined. Here the root
    page's content moves into a new section under its title and with its labels, which
    the writer prints as a chapter holding the intro's sections, with numbering off around
    it. The chapters (the toctree that follows) keep their order, so a chapter added to
    ``_toc.yml`` is numbered in turn. The page named :data:`BACK_MATTER` is left out:
    Sphinx already moved its citations to the end of the PDF, where they are printed
    under the heading "References" (``\\bibname``, set in ``_config.yml``).
    """
    if app.builder.format != "latex" or docname != app.config.root_doc:
        return
    top = next(iter(doctree.findall(nodes.section)), None)
    if top is None:
        return
    chapters = [n for n in top.children if isinstance(n, nodes.compound) and "toctree-wrapper" in n["classes"]]
    intro = [n for n in top.children[1:] if n not in chapters]
    title = top[0]
    preface = nodes.section("", nodes.title("", title.astext()), *intro, ids=list(top["ids"]),
                            names=list(top["names"]))
    top["ids"], top["names"] = [], []
    top.children = []
    top.extend([title, *_unnumbered(preface), *chapters])
    for start in list(top.findall(addnodes.start_of_file)):
        if start.get("docname") == BACK_MATTER:
            start.parent.remove(start)


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", configure_html)
    app.connect("builder-inited", check_mathjax)
    app.connect("doctree-resolved", caption_alt_text)
    app.connect("doctree-resolved", latex_front_and_back_matter)
    app.connect("build-finished", copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
