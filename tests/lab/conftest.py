"""Fixtures and skip helpers for the root-only lab tiers (real LXC containers).

``SERVICE_PACKAGES`` is the image's package list as the deployer's role catalog
declares it, so tests boot exactly the image users get. Every lab name handed out
here is recorded, and the session ends with a leak check on all of them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deployer.catalog import image_packages
from tests.lab.leaks import leftovers

#: Every service package the deployer's roles need (the catalog owns the list).
SERVICE_PACKAGES = image_packages()
#: Lab names the fixtures handed out this session (checked for leftovers at the end).
ISSUED: set[str] = set()


def require_root() -> None:
    """Skip the calling test unless running as root (containers, namespaces, mounts)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: LXC containers, network namespaces and overlay mounts")


def require_lxc() -> None:
    """Skip unless root and the Debian packages lxc + debootstrap are installed."""
    require_root()
    for tool, package in (("lxc-start", "lxc"), ("debootstrap", "debootstrap"),
                          ("ip", "iproute2")):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found: apt-get install -y {package}")


def require_netns() -> None:
    """Skip unless root with the tools the fabric tests drive: ip, nft, tc, nsenter, ping."""
    require_root()
    for tool, package in (("ip", "iproute2"), ("tc", "iproute2"), ("nft", "nftables"),
                          ("nsenter", "util-linux"), ("ping", "iputils-ping")):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found: apt-get install -y {package}")


def wait_for(predicate: Callable[[], object], timeout: float, what: str,
             interval: float = 0.05) -> bool:
    """Poll ``predicate`` until truthy; True, or AssertionError naming ``what`` on timeout.

    >>> wait_for(lambda: True, 1, "nothing")
    True
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s awaiting {what}")
        time.sleep(interval)
    return True


@pytest.fixture(scope="session")
def node_image():
    """The node image with SERVICE_PACKAGES (built once, minutes; then cached)."""
    require_lxc()
    from lab.image import ensure_image
    return ensure_image(SERVICE_PACKAGES, progress=lambda line: print(line, flush=True))


ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run ``stacklab ARGS`` as a user would (a subprocess), output captured."""
    return subprocess.run([sys.executable, "-m", "stacklab.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, check=False)


def new_lab_name() -> str:
    """A unique lab name (short: it ends up in netns and container names); tests may add a
    one-letter suffix for a second lab, so every prefix of it is recorded.
    ``STACKLAB_TEST_PREFIX`` (default ``t``) starts it: engineers sharing a host tell
    their labs apart by it."""
    name = f"{os.environ.get('STACKLAB_TEST_PREFIX', 't')[:4]}{uuid.uuid4().hex[:6]}"
    ISSUED.add(name)
    return name


@pytest.fixture
def lab_name() -> str:
    """A unique lab name per test."""
    return new_lab_name()


@pytest.fixture(scope="module")
def module_lab_name() -> str:
    """A unique lab name shared by a module's tests (one lab up for the whole module)."""
    return new_lab_name()


@pytest.fixture(scope="session", autouse=True)
def no_leaks_after_session() -> Iterator[None]:
    """The leak checker: after the lab tiers, nothing of any lab they made may remain
    (namespaces, containers, mounts, cgroups, processes, dirs, host links)."""
    yield
    left = [item for name in sorted(ISSUED) for item in leftovers(name)]
    assert left == [], "lab tier leaked:\n  " + "\n  ".join(left)


@pytest.fixture
def make_netns():
    """Create ``/run/netns/<name>`` namespaces (the fabric's job in real runs); removed after."""
    made: list[str] = []

    def make(name: str) -> Path:
        """Create the namespace ``name``; return its /run/netns path."""
        require_netns()
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
        made.append(name)
        return Path("/run/netns") / name

    yield make
    for name in made:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
