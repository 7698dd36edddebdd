"""pytest plugin: scenario files are test files, their steps are test items.

``pytest scenarios/controller-failover.yaml`` runs a scenario; ``-k``, ``-x`` and
``--junitxml`` work as for any test. A YAML file is collected when it is named on the
command line or sits directly in a ``scenarios/`` folder and has ``steps:``; lab files
and other YAML are left alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.backends import DEFAULT
from stacklab.runner.report import write_results
from stacklab.runner.session import Options, ScenarioRun
from stacklab.runner.steps import ExpectationFailed, Planned, plan
from stacklab.scenario import Scenario
from stacklab.validate import Result, validate_file


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stacklab", "stacklab scenarios")
    group.addoption("--keep", action="store_true", help="leave the scenario's lab up afterwards")
    group.addoption("--reuse", action="store_true", help="run on a lab already up with the same topology")
    group.addoption("--runs-dir", default="runs", help="where run results go (default: runs/)")
    group.addoption("--run-dir", default=None, help="exact folder for this run's results (one scenario)")
    group.addoption("--lab-backend", default=DEFAULT, help=f"node backend for new labs (default: {DEFAULT})")
    group.addoption("--lab-name", default=None, help="name of the lab to create")


def _is_scenario(path: Path, config: pytest.Config) -> bool:
    if path.suffix not in (".yaml", ".yml"):
        return False
    named = any(Path(a.split("::")[0]).resolve() == path.resolve() for a in config.args)
    if not named and path.parent.name != "scenarios":
        return False
    try:
        head = path.read_text(errors="replace")
    except OSError:
        return False
    return any(line.startswith("steps:") for line in head.splitlines())


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is_scenario(file_path, parent.config):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class Validated:
    """Results ``stacklab run`` already has: passed to ``pytest.main(plugins=...)`` so the
    file it validated (lab and cloud variant included) is not read and validated again."""

    NAME = "stacklab-validated"

    def __init__(self, results: dict[Path, Result]) -> None:
        self.__name__ = self.NAME  # the name pytest registers it under
        self.results = {p.resolve(): r for p, r in results.items()}


class ScenarioFile(pytest.File):
    run: ScenarioRun | None = None

    def collect(self) -> Iterator[pytest.Item]:
        given = self.config.pluginmanager.get_plugin(Validated.NAME)
        result = given.results.get(self.path.resolve()) if given else None
        result = result or validate_file(self.path)
        if not result.ok or not isinstance(result.model, Scenario):
            raise ScenarioInvalid("\n".join(result.messages))
        assert result.topology is not None and result.cloud is not None
        opts = Options(backend=self.config.getoption("lab_backend"), keep=self.config.getoption("keep"),
                       reuse=self.config.getoption("reuse"), runs_dir=Path(self.config.getoption("runs_dir")),
                       lab_name=self.config.getoption("lab_name"), run_dir=self.config.getoption("run_dir"))
        self.run = ScenarioRun(self.path, result.model, result.topology, result.cloud, opts, say=_say)
        steps = plan(result.model)
        for n, planned in enumerate(steps, start=1):
            name = f"{n:02d} {planned.label}" + (" (implicit)" if planned.implicit else "")
            yield StepItem.from_parent(self, name=name, planned=planned, position=(n, len(steps)))


    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioInvalid):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class ScenarioInvalid(Exception):
    """The scenario file is invalid: reported as a collection error with every message."""


class StepItem(pytest.Item):
    def __init__(self, *, planned: Planned, position: tuple[int, int] = (0, 0), **kw: Any) -> None:
        super().__init__(**kw)
        self.planned = planned
        self.position = position  # (n, of): the progress line says where the scenario is

    @property
    def scenario_run(self) -> ScenarioRun:
        run = self.parent.run  # type: ignore[union-attr]
        assert run is not None
        return run

    def runtest(self) -> None:
        run = self.scenario_run
        if run.prepare_error:
            pytest.skip(f"the lab could not be prepared: {run.prepare_error}")
        if not run.ready:
            try:
                run.prepare()
            except Exception as e:
                run.prepare_error = f"{type(e).__name__}: {e}"
                raise
        n, of = self.position
        _say(f"step {n}/{of}: {self.planned.label} ...")
        try:
            run.run(self.planned)
        finally:
            last = run.results[-1] if run.results else None
            if last is not None and last.label == self.planned.label:
                _say(f"step {n}/{of}: {last.label}: {last.status} ({last.seconds:.1f} s)")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ExpectationFailed):
            return f"{self.planned.label}: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.parent.name}::{self.name}"  # type: ignore[union-attr]


def _say(line: str) -> None:
    print(f"[stacklab] {line}", flush=True)


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After a scenario's last step (or when -x stops the session): results, then down."""
    if not isinstance(item, StepItem) or (nextitem is not None and nextitem.parent is item.parent):
        return
    run = item.scenario_run
    try:
        if run.ready:
            out = write_results(run)
            os.environ["STACKLAB_LAST_RUN"] = str(out)
    finally:
        run.finish()
