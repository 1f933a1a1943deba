"""Every table of the report, as a pandas DataFrame."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd


def sweep_table(runs: Sequence[Any]) -> pd.DataFrame:
    """Table 3 / Table 6: one row per configuration, best to worst test accuracy.

    Columns: kernel, stride, padding, test loss, test accuracy (%), and the accuracy
    difference to the best row in percentage points (0 for the best).
    """
    rows = []
    for r in runs:
        conv = r.experiment.model.convs[0]
        rows.append({
            "experiment": r.experiment.name,
            "kernel": f"{conv.kernel}x{conv.kernel}",
            "stride": conv.stride,
            "padding": conv.padding,
            "test loss": r.metrics["test_loss"],
            "test accuracy (%)": 100 * r.metrics["test_accuracy"],
        })
    df = pd.DataFrame(rows).sort_values("test accuracy (%)", ascending=False, kind="stable")
    df["Δ accuracy (pp)"] = df["test accuracy (%)"] - df["test accuracy (%)"].iloc[0]
    return df.reset_index(drop=True).round({"test loss": 4, "test accuracy (%)": 2, "Δ accuracy (pp)": 2})
