"""The catalog's ``index.html``: one row per scenario run, linking its report."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import Any

from stacklab.report.page import page


def index_page(outcomes: list[Any], out: Path, closing: str) -> str:
    """Rows of (scenario, lab group, verdict, seconds, report link relative to ``out``)."""
    rows = []
    for o in outcomes:
        ok = o.code == 0 and o.verdict == "passed"
        report = o.run_dir / "report.html" if o.run_dir else None
        link = (f'<a href="{escape(os.path.relpath(report, out))}">report</a>' if report and report.is_file()
                else "no report")
        rows.append(f"<tr><td>{escape(o.scenario)}</td><td>{o.group}</td>"
                    f'<td class="{"pass" if ok else "fail"}">{escape(o.verdict)}</td>'
                    f"<td>{o.seconds:.0f} s</td><td>{link}</td></tr>")
    failed = sum(1 for o in outcomes if not (o.code == 0 and o.verdict == "passed"))
    body = (f"<h1>stacklab catalog: {len(outcomes) - failed} passed, {failed} failed</h1>"
            f"<p>{escape(closing)}</p><table><tr><th>scenario</th><th>lab group</th><th>verdict</th>"
            f"<th>time</th><th>report</th></tr>{''.join(rows)}</table>")
    return page("stacklab catalog", body)
