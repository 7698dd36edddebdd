"""The e2e tier: the lab tier's fixtures (unique names, leak check) plus ONE deployed
`control` lab shared by every e2e module (a deploy costs ≈ 1–2 min on 2 cores)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deployer.catalog import image_packages
from deployer.deploy import deploy
from lab import engine
from stacklab.validate import validate_file
from tests.lab.conftest import lab_name, module_lab_name, new_lab_name, no_leaks_after_session, require_lxc  # noqa: F401
from tests.lab.leaks import leftovers

ROOT = Path(__file__).resolve().parents[2]
CONTROL = ROOT / "scenarios/labs/control.yaml"


@pytest.fixture(scope="session")
def control_lab() -> Iterator[str]:
    """The `control` lab (3 controllers + cli1), up and deployed, for the whole session."""
    require_lxc()
    result = validate_file(CONTROL)
    assert result.ok and result.topology is not None and result.cloud is not None, result.messages
    name = new_lab_name()
    engine.up(name, result.topology, packages=image_packages(), source=str(CONTROL), progress=print)
    try:
        deploy(name, result.cloud, say=print)
        yield name
    finally:
        engine.down(name, progress=print)
    assert leftovers(name) == []
