"""The e2e tier: the lab tier's fixtures (unique names, leak check) plus ONE deployed lab
per topology shared by every e2e module: `control` (a deploy costs ≈ 1–2 min on 2
cores) and `neutron` (the tenant dataplane)."""

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
NEUTRON = ROOT / "scenarios/labs/neutron.yaml"


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


@pytest.fixture(scope="session")
def neutron_lab() -> Iterator[str]:
    """The `neutron` lab (3 controllers doubling as network nodes, 2 computes, cli1) with
    Neutron and its tenant resources deployed, for the whole session."""
    require_lxc()
    result = validate_file(NEUTRON)
    assert result.ok and result.topology is not None and result.cloud is not None, result.messages
    name = new_lab_name()
    engine.up(name, result.topology, packages=image_packages(), source=str(NEUTRON), progress=print)
    try:
        deploy(name, result.cloud, say=print)
        yield name
    finally:
        engine.down(name, progress=print)
    assert leftovers(name) == []
