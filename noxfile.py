"""stacklab's front door: `nox -s NAME`.

Sessions: tests (unit, then the root-only lab tier), lint, validate-scenarios.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "validate-scenarios"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
PACKAGES = ["lab", "deployer", "checks", "stacklab"]


def install(session: nox.Session, *extras: str) -> None:
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tier (no root, seconds); pass pytest arguments after `--`."""
    install(session)
    session.run("pytest", "tests/unit", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy on the packages."""
    install(session, "dev")
    session.run("ruff", "check", *PACKAGES, "tests", "noxfile.py")
    session.run("mypy")


@nox.session(name="validate-scenarios")
def validate_scenarios(session: nox.Session) -> None:
    """`stacklab validate` on every YAML file under scenarios/."""
    install(session)
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scenarios").rglob("*.yaml"))
    session.run("stacklab", "validate", *files)
