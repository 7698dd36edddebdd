"""The README's reference tables, generated from the registries (never written by hand).

``python -m stacklab.reference`` rewrites the blocks between ``<!-- generated: NAME -->``
and ``<!-- end: NAME -->`` in README.md; a unit test fails when they are stale.

>>> "| `healthy` |" in tables()["checks"]
True
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from checks.load import TARGETS
from checks.metrics import FAMILIES
from checks.registry import SUITE, checks
from deployer.service_faults import ACTIONS, MODELS
from lab.faults import VERBS
from lab.faultspec import LAB_FAULTS

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n).*?(<!-- end: \2 -->)", re.S)


def _checks() -> str:
    rows = [f"| `{SUITE}` | every check below that applies (the run-once ones after the others) | |"]
    for name, spec in checks().items():
        needs = f"{spec.needs} deployed" + (", once per healthy step" if spec.once else "") if spec.needs else "always"
        rows.append(f"| `{name}` | {spec.summary} | {needs} |")
    return "| check | what it judges | runs when |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n"


def _metrics() -> str:
    rows = [f"| `{m}` | {spec.unit} | {spec.summary} | {fam.name} probe on {fam.service}"
            f"{'; after ' + fam.fed_by_text if spec.after_fault else ''} |"
            for fam in FAMILIES.values() for m, spec in fam.metrics.items()]
    return "| metric | unit | what | produced by |\n| --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"


def _faults() -> str:
    rows = []
    for name in sorted({*LAB_FAULTS, *MODELS}):
        if name in ACTIONS:
            rows.append(f"| `{name}` | service (`service:` NAME) | heal starts the unit again |")
        elif name in MODELS:  # declared on the fault's model, next to its code
            rows.append(f"| `{name}` | {MODELS[name].KIND} | {MODELS[name].UNDO} |")
        else:
            undo = VERBS[name].undo
            how = f"`{undo}`" if isinstance(undo, str) else "undone by heal" if undo else VERBS[name].permanent
            rows.append(f"| `{name}` | lab | {how} |")
    return "| action | kind | undo |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n"


def _loads() -> str:
    rows = [f"| `{name}` | {t.service} | {t.summary} |" for name, t in TARGETS.items()]
    return "| load target | service | one user |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n"


def _scenarios() -> str:
    """The catalog: every scenario file with its lab, summary and what it expects."""
    from stacklab.scenario import ExpectStep, Scenario
    from stacklab.validate import REPO_LABS, validate_file

    rows = []
    for path in sorted(REPO_LABS.parent.glob("*.yaml")):
        scn = validate_file(path).model
        if not isinstance(scn, Scenario):
            continue
        expects = [f"`{e.metric}`" if e.metric else f"`{e.check}` {e.outcome}"
                   for e in (s.expect for s in scn.steps if isinstance(s, ExpectStep))]
        rows.append(f"| `{path.stem}` | {scn.lab or 'inline'} | {scn.summary} | {', '.join(dict.fromkeys(expects))} |")
    return "| scenario | lab | what happens | expects |\n| --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"


def tables() -> dict[str, str]:
    return {"checks": _checks(), "metrics": _metrics(), "faults": _faults(), "loads": _loads(),
            "scenarios": _scenarios()}


def render(text: str) -> str:
    """``text`` with every generated block replaced by the current table."""
    made = tables()
    return BLOCK.sub(lambda m: m.group(1) + made[m.group(2)] + m.group(3), text)


if __name__ == "__main__":
    README.write_text(render(README.read_text()))
    sys.exit(0)
