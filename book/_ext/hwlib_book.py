"""The book's own Sphinx extension: what Jupyter Book's configuration cannot say by itself.

* **Alt text**: every image in a figure gets the figure's caption as its alt text (a
  notebook output's image would otherwise say only its hash file name).
* **Offline math**: MathJax 3 is served from the book, not a CDN: the pinned PyPI package
  ``sphinx-mathjax-offline``, loaded here, copies its MathJax into ``_static/mathjax`` and
  points ``mathjax_path`` at ``tex-chtml.js`` there.
* **The PDF link**: the footer links ``hwlib-report.pdf`` only when ``make pdf`` has
  built it (``<build>/latex/hwlib-report.pdf`` beside the HTML folder), and the PDF is
  then copied into the HTML, so no build ships a dead link.
* **The repository**: ``HWLIB_REPO_URL`` (e.g. ``https://github.com/OWNER/hwlib``) is the
  one setting for the repository, issue and edit buttons, the footer's link to the
  repository and the Binder and Colab launch buttons (``launch_buttons`` in
  ``_config.yml``); unset, they are left out.
* **The layout**: the page's contents sit in the left sidebar under the chapters, not in a
  right-hand column, so the article is wide enough for the book's tables.
* **The PDF's structure**: the root page (the intro) becomes an unnumbered preface, the
  other chapters are numbered from 1, and the references close the book (see
  :func:`latex_front_and_back_matter`).
"""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.errors import ConfigError
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

LOG = logging.getLogger(__name__)
REPO_ENV = "HWLIB_REPO_URL"
PDF_NAME = "hwlib-report.pdf"
PDF_LINK = f'<p><a class="hwlib-pdf" href="{PDF_NAME}">Download the book as PDF</a>.</p>'
# The Sphinx extension of the PyPI package sphinx-mathjax-offline (its module name has hyphens).
MATHJAX_EXTENSION = "sphinx-mathjax-offline"
REPO_LINK = ('<p>The code, the run store and the notebooks behind this book: '
             '<a class="hwlib-repo" href="{url}">the repository</a>.</p>')
# sphinx-book-theme's left sidebar (its theme.conf "sidebars"); the page's contents follow it.
BOOK_THEME_SIDEBAR = ("navbar-logo.html", "icon-links.html", "search-button-field.html", "sbt-sidebar-nav.html")
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


# --- the HTML: PDF link, repository and launch buttons --------------------------------


def is_html(app: Sphinx) -> bool:
    return app.builder.format == "html"


def built_pdf(app: Sphinx) -> Path:
    """Where ``make pdf`` leaves the PDF: the latex folder beside this HTML output."""
    return Path(app.outdir).parent / "latex" / PDF_NAME


def configure_html(app: Sphinx, config) -> None:
    """The page layout, the buttons and footer link from ``HWLIB_REPO_URL``, and the PDF
    link when the PDF is there (the theme's options; only an HTML build reads them, and the
    builder is not known yet here).

    Layout: the page's contents ("On this page") move from a right-hand column into the
    left sidebar, under the chapters, so the article gets the width the right-hand column
    took (``_static/hwlib.css`` lets it use it) and the wide tables fit the text column at
    1280 px. On a narrow screen the theme moves the left sidebar, and so both, into its menu.
    """
    theme = config.html_theme_options
    theme["secondary_sidebar_items"] = []
    theme["toc_title"] = "On this page"
    if not config.html_sidebars:
        config.html_sidebars = {"**": [*BOOK_THEME_SIDEBAR, "page-toc.html"]}
    url = os.environ.get(REPO_ENV, "").strip().rstrip("/")
    # {{ variants_doc }} in a chapter: the facts about the original code, linked when the book
    # knows its repository.
    branch = theme.get("repository_branch") or "main"
    config.myst_substitutions = {**config.myst_substitutions, "variants_doc": (
        f"[`docs/variants.md`]({url}/blob/{branch}/docs/variants.md)" if url else "`docs/variants.md`")}
    if url:
        if not url.startswith(("https://", "http://")):
            raise ConfigError(f"{REPO_ENV} must be the repository's web address "
                              f"(https://github.com/OWNER/REPO), got {url!r}.")
        theme["repository_url"] = url
        theme.update(dict.fromkeys(BUTTONS, True))
        theme["extra_footer"] = theme.get("extra_footer", "") + REPO_LINK.format(url=html.escape(url))
    else:
        theme.pop("repository_url", None)
        theme.update(dict.fromkeys(BUTTONS, False))
        theme["launch_buttons"] = {k: v for k, v in theme.get("launch_buttons", {}).items() if k not in LAUNCHERS}
    if built_pdf(app).is_file():
        theme["extra_footer"] = theme.get("extra_footer", "") + PDF_LINK


def copy_pdf(app: Sphinx, exception: Exception | None) -> None:
    """After an HTML build: the PDF beside the pages, when ``make pdf`` has built it."""
    if exception is not None or not is_html(app):
        return
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


class DropCodeInLatex(SphinxPostTransform):
    """The PDF shows no code: the chapters' code cells (``hide-input`` in the HTML, where a
    reader can open them) are left out of the LaTeX, their outputs kept."""

    default_priority = 199
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(nodes.container)):
            if node.get("nb_element") == "cell_code_source":
                node.parent.remove(node)


def setup(app: Sphinx) -> dict:
    app.add_post_transform(DropCodeInLatex)
    app.setup_extension(MATHJAX_EXTENSION)
    app.connect("config-inited", configure_html)
    app.connect("doctree-resolved", caption_alt_text)
    app.connect("doctree-resolved", latex_front_and_back_matter)
    app.connect("build-finished", copy_pdf)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
