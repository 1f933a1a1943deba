"""Values and tables glued into a chapter's prose (MyST-NB ``glue``), and its key numbers.

Every result-dependent number or phrase of the prose is glued from a computed value
(:func:`glue_all`); tables are glued as Markdown for a numbered ``{table}``
(:func:`glue_table`); :func:`key_numbers` prints a chapter's final numbers for nbval.
"""

from __future__ import annotations

from typing import Any


def glue_all(prefix: str, values: dict[str, Any]) -> None:
    """Glue every value as ``{prefix}_{name}`` (not displayed) for the chapter's prose; a
    space in a name becomes ``_`` (a glue key is one word in the prose's roles)."""
    from myst_nb import glue

    for name, value in values.items():
        name = name.replace(" ", "_")
        if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
            value = value.item()  # a NumPy scalar glues as 'np.float64(...)', which no format spec reads
        glue(f"{prefix}_{name}", value, display=False)


def glue_markdown(name: str, text: str) -> None:
    """Glue Markdown text (a list, a paragraph) for a ``{glue:md}`` block of the prose."""
    from IPython.display import Markdown
    from myst_nb import glue

    glue(name, Markdown(text), display=False)


def glue_table(name: str, df: Any) -> None:
    """Glue a DataFrame as Markdown, for a numbered ``{table}`` with ``{glue:md}`` inside."""
    from hwlib.tables import to_markdown

    glue_markdown(name, to_markdown(df))


def key_numbers(runs: list[Any]) -> Any:
    """The final test numbers of a chapter's runs, one row each (checked by nbval)."""
    import pandas as pd

    return pd.DataFrame([{
        "experiment": r.experiment.name, "run": r.key,
        "test_loss": f"{r.metrics['test_loss']:.4f}",
        "test_accuracy": f"{100 * r.metrics['test_accuracy']:.2f}",
    } for r in runs])
