"""What made a figure: one provenance line per figure, stamped below it.

:func:`provenance` names the runs behind a figure (experiment, run key, seed, data
fingerprint, code version and commit); :func:`show` stamps the line under a figure and
returns it rendered as a PNG.
"""

from __future__ import annotations

import hashlib
from typing import Any

from hwlib import __version__

MAX_LISTED_EXPERIMENTS = 3  # a figure of more experiments (or runs) names its runs by a digest
MAX_LISTED_RUNS = 12


def provenance(run: Any) -> str:
    """One line that identifies a figure's source: experiment, run key, seed, data, code.

    ``run`` may be a list of runs (a figure over seeds or experiments): then every
    experiment with its seeds and run keys, and the data and code they share.
    """
    runs = list(run) if isinstance(run, (list, tuple)) else [run]
    runs = list({r.key: r for r in runs}.values())  # one run may stand for two experiments
    if not runs:
        raise ValueError("provenance() needs at least one run.")
    commits = sorted({(r.provenance.get("git") or {}).get("commit", "")[:8] for r in runs} - {""})
    code = f"hwlib {__version__}" + (f" @ {', '.join(commits)}" if commits else "")
    data = ", ".join(sorted({r.data_fingerprint for r in runs}))
    if len(runs) == 1:
        r = runs[0]
        return f"{r.experiment.name} · run {r.key} · seed {r.experiment.train.seed} · data {data} · {code}"
    by_name: dict[str, list[Any]] = {}
    for r in runs:
        by_name.setdefault(r.experiment.name, []).append(r)
    if len(by_name) <= MAX_LISTED_EXPERIMENTS and len(runs) <= MAX_LISTED_RUNS:
        parts = [f"{name} seeds {','.join(str(r.experiment.train.seed) for r in rs)} "
                 f"(runs {' '.join(r.key[:8] for r in rs)})" for name, rs in by_name.items()]
        return f"{' · '.join(parts)} · data {data} · {code}"
    # Too many to list: name the set of runs by a digest of their keys (sorted).
    digest = hashlib.sha256(" ".join(sorted(r.key for r in runs)).encode()).hexdigest()[:12]
    seeds = sorted({r.experiment.train.seed for r in runs})
    experiments = f"{len(by_name)} experiment{'s' if len(by_name) > 1 else ''}"
    return (f"{len(runs)} runs of {experiments}, seeds {seeds[0]}–{seeds[-1]} · run-set "
            f"{digest} (sha256 of the sorted run keys) · data {data} · {code}")


def show(fig: Any, run: Any) -> Any:
    """Stamp a figure with its provenance line (below the plot; ``run`` may be a list of
    runs) and return it as a PNG (:func:`hwlib.plots.png`).

    The PNG is rendered here (not by the notebook's matplotlib backend), so the chapter
    shows exactly one image per figure whatever backend the kernel runs with (papermill,
    nbval, ``MPLBACKEND=Agg``), and the PDF gets the same bitmap as the HTML.
    """
    from IPython.display import Image

    from hwlib import plots

    plots.stamp(fig, provenance(run))
    return Image(data=plots.png(fig), format="png")
