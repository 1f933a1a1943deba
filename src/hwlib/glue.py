"""Values and tables glued into a chapter's prose (MyST-NB ``glue``), and its key numbers.

Every result-dependent number of the prose is glued from a computed value under a key
written out whole where it is glued (:func:`glue_values`), so ``grep`` finds the cell that
glued any key the prose uses; tables are glued as Markdown for a ``{table}``
(:func:`glue_table`); :func:`key_numbers` prints a chapter's final numbers for nbval.
"""

from __future__ import annotations

from typing import Any


def glue_values(values: dict[str, Any]) -> None:
    """Glue every value under its whole key (not displayed), so each key can be grepped
    where it is glued; a NumPy scalar is glued as the Python number it holds (as
    ``np.float64(...)`` no format spec of the prose would read it)."""
    from myst_nb import glue

    for key, value in values.items():
        glue(key, value.item() if getattr(value, "ndim", None) == 0 else value, display=False)


def glue_table(name: str, df: Any) -> None:
    """Glue a DataFrame as Markdown, for a numbered ``{table}`` with ``{glue:md}`` inside."""
    from IPython.display import Markdown
    from myst_nb import glue

    from hwlib.tables import to_markdown

    glue(name, Markdown(to_markdown(df)), display=False)


def key_numbers(runs: list[Any]) -> Any:
    """The final test numbers of a chapter's runs, one row each (checked by nbval)."""
    import pandas as pd

    return pd.DataFrame([{
        "experiment": r.experiment.name, "run": r.key,
        "test_loss": f"{r.metrics['test_loss']:.4f}",
        "test_accuracy": f"{100 * r.metrics['test_accuracy']:.2f}",
    } for r in runs])
