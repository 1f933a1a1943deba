"""Values and tables glued into a chapter's prose (MyST-NB ``glue``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from hwlib.tables import to_markdown


def glue_values(values: dict[str, Any]) -> None:
    """Glue each value, not displayed, under its key (written out whole, for grep); NumPy scalars as numbers."""
    from myst_nb import glue

    for key, value in values.items():
        glue(key, value.item() if getattr(value, "ndim", None) == 0 else value, display=False)


def glue_table(name: str, df: pd.DataFrame) -> None:
    """Glue a DataFrame as Markdown, for a numbered ``{table}`` with ``{glue:md}`` inside."""
    from IPython.display import Markdown
    from myst_nb import glue

    glue(name, Markdown(to_markdown(df)), display=False)
