"""The platform formats by ``--format`` name (socket-grader's own ``json`` is in jsonfmt).

Each format is one module with a ``write(results, spec, out_dir) -> list[Path]``;
docs/results.md says which file each writes where.
"""

from __future__ import annotations

from typing import Sequence

from ..errors import UsageError
from . import autolab, csvbook, gradescope, html, junit, markdown, prairielearn

WRITERS = {
    "gradescope": gradescope.write,
    "prairielearn": prairielearn.write,
    "junit": junit.write,
    "csv": csvbook.write,
    "markdown": markdown.write,
    "html": html.write,
    "autolab": autolab.write,
}

# Formats that write OUT/results.json when a run grades one submission (the name
# Gradescope and PrairieLearn read); socket-grader's own json always writes it.
RESULTS_JSON = ("json", "gradescope", "prairielearn")


def check_combination(names: Sequence[str], submissions: int) -> None:
    """Refuse formats that would overwrite each other's file in one ``--out`` folder."""
    claim = [n for n in RESULTS_JSON if n in names]
    if submissions == 1 and len(claim) > 1:
        raise UsageError(f"--format {' and '.join(claim)} would all write results.json in the "
                         "--out folder; ask for them in separate runs with different --out folders")
