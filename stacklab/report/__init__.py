"""A run's report (``RUN_DIR/report.html``) and the comparison of runs, from run
directories alone (``stacklab.runner.evidence`` documents what they hold).

>>> callable(render) and callable(compare_runs)
True
"""

from __future__ import annotations

from pathlib import Path


def render(run_dir: Path) -> Path:
    """``RUN_DIR/report.html`` (matplotlib is imported here, not at CLI start)."""
    from stacklab.report.page import render as write

    return write(Path(run_dir))


def compare_runs(run_dirs: list[Path], out: Path) -> tuple[Path, list[str]]:
    """A page with the runs' figures side by side and their ratios; the table as text lines."""
    from stacklab.report.compare import write

    return write([Path(d) for d in run_dirs], Path(out))
