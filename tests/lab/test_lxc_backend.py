"""The LXC backend on real containers booted from the real node image (root only)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.backends.base import NodeSpec
from lab.backends.lxc import LAB_ROOT, LxcBackend, container_name, lab_dir
from lab.backends.lxc import host as lxc_host
from lab.backends.lxc import reap as lxc_reap
from lab.errors import LabError, NodeBootError
from tests.lab.conftest import require_lxc

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def backend():
    """A preflighted backend (skips with the reason when lxc or root is missing)."""
    require_lxc()
    be = LxcBackend()
    be.preflight()
    return be


@pytest.fixture
def lab(backend, lab_name, make_netns, node_image):
    """Boot nodes ``a`` and ``b`` in their own netns; down + leak check afterwards."""
    specs = [NodeSpec(n, f"{lab_name}-{n}", make_netns(f"sl-{lab_name}.{n}")) for n in "ab"]
    backend.up(lab_name, specs, node_image)
    yield lab_name
    backend.down(lab_name)
    assert_no_trace(lab_name)


def assert_no_trace(lab: str) -> None:
    """Nothing of ``lab`` is left: dir, containers, mounts, processes, cgroups, zombies."""
    assert not lab_dir(lab).exists()
    assert LxcBackend().status(lab) == {}
    with open("/proc/mounts", encoding="utf-8") as mounts:  # netns mounts are the fabric's
        assert [ln for ln in mounts if (f"/{lab}/" in ln or f"sl-{lab}." in ln)
                and ln.split()[2] != "nsfs"] == []
    prefix = f"sl-{lab}."
    procs = [p for p in Path("/proc").iterdir() if p.name.isdigit()]
    cmdlines = []
    for proc in procs:
        try:
            cmdlines.append(proc.joinpath("cmdline").read_bytes().replace(b"\0", b" "))
        except OSError:
            continue
    assert [c for c in cmdlines if prefix.encode() in c] == []
    for root in lxc_host.cgroup_roots():
        leftovers = [d for d, _dirs, _files in os.walk(root) if prefix in Path(d).name]
        assert leftovers == [], f"cgroups left in {root}"
    assert lxc_reap.reap_orphans() == 0


def test_nodes_boot_run_and_have_their_own_hostname(backend, lab):
    """Both nodes run systemd; a command's exit code, stdout, stderr come back."""
    assert backend.status(lab) == {"a": "running", "b": "running"}
    for node in "ab":
        done = backend.run(lab, node, ["hostname"])
        assert (done.returncode, done.stdout.strip()) == (0, f"{lab}-{node}")
        state = backend.run(lab, node, ["systemctl", "is-system-running"]).stdout.strip()
        assert state in ("running", "degraded")
    done = backend.run(lab, "a", ["sh", "-c", "cat; echo oops >&2; echo $FOO; exit 3"],
                       input="piped\n", env={"FOO": "bar"})
    assert (done.returncode, done.stdout, done.stderr) == (3, "piped\nbar\n", "oops\n")
    assert backend.run(lab, "a", ["sh", "-c", "echo $PATH"]).stdout.startswith("/usr/local/sbin")


def test_nodes_are_isolated_from_each_other_and_the_host(backend, lab, node_image):
    """A file written in one node's /etc exists nowhere else, not even in the image."""
    probe = f"/etc/stacklab-probe-{lab}"
    assert backend.run(lab, "a", ["sh", "-c", f"echo hi > {probe}"]).ok
    assert backend.run(lab, "a", ["cat", probe]).stdout == "hi\n"
    assert backend.run(lab, "b", ["test", "-e", probe]).returncode == 1
    assert not Path(probe).exists()
    assert not (node_image.rootfs / probe.lstrip("/")).exists()
    ids = {backend.run(lab, n, ["cat", "/etc/machine-id"]).stdout for n in "ab"}
    assert len(ids) == 2
    links = {backend.run(lab, n, ["readlink", "/proc/1/ns/net"]).stdout for n in "ab"}
    assert len(links) == 2 and os.readlink("/proc/self/ns/net") + "\n" not in links


def test_power_off_and_on_keeps_the_node_disk(backend, lab):
    """off stops the node (commands fail with a LabError); on boots it again."""
    assert backend.run(lab, "a", ["sh", "-c", "echo kept > /root/state"]).ok
    backend.power(lab, "a", "off")
    assert backend.status(lab) == {"a": "stopped", "b": "running"}
    with pytest.raises(LabError, match="state stopped"):
        backend.run(lab, "a", ["true"])
    backend.power(lab, "a", "on")
    assert backend.status(lab)["a"] == "running"
    assert backend.run(lab, "a", ["cat", "/root/state"]).stdout == "kept\n"


def test_freeze_and_thaw(backend, lab):
    """A frozen node answers nothing (timeout names node and command); thaw restores."""
    backend.power(lab, "b", "freeze")
    assert backend.status(lab)["b"] == "frozen"
    with pytest.raises(LabError, match=r"node b .*timed out after 1 s: echo x"):
        backend.run(lab, "b", ["echo", "x"], timeout=1)
    assert backend.run(lab, "a", ["true"]).ok
    backend.power(lab, "b", "thaw")
    assert backend.status(lab)["b"] == "running"
    assert backend.run(lab, "b", ["echo", "back"], timeout=10).stdout == "back\n"


def test_down_of_a_frozen_node_with_a_stuck_command(backend, lab):
    """The timed-out command inside a frozen node must not pin it at down."""
    backend.power(lab, "a", "freeze")
    with pytest.raises(LabError, match="timed out"):
        backend.run(lab, "a", ["true"], timeout=0.5)
    start = time.monotonic()
    backend.down(lab)
    assert time.monotonic() - start < 15
    assert_no_trace(lab)


def test_unknown_netns_and_slow_boot_are_explained(backend, lab_name, make_netns, node_image):
    """Errors name the node and what was awaited, with the console tail."""
    with pytest.raises(LabError, match=r"network namespace /run/netns/nope of node x"):
        backend.up(lab_name, [NodeSpec("x", "x", Path("/run/netns/nope"))], node_image)
    try:
        with pytest.raises(NodeBootError, match=r"- x: systemctl is-system-running .*"
                                                r"awaited running\|degraded"):
            backend.up(lab_name, [NodeSpec("x", "x")], node_image, timeout=0.01)
    finally:
        backend.down(lab_name)
    assert_no_trace(lab_name)


CHILD = """
import sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from lab.backends.base import NodeSpec
from lab.backends.lxc import LxcBackend
from lab.image import Image
LxcBackend().up({lab!r}, [NodeSpec(f"n{{i}}", f"n{{i}}") for i in range(4)],
                Image.load(Path({image!r})))
"""


def test_down_after_the_harness_was_sigkilled_mid_up(backend, lab_name, node_image):
    """down works from disk alone, right after a SIGKILL during up."""
    code = CHILD.format(repo=str(REPO), lab=lab_name, image=str(node_image.path))
    child = subprocess.Popen([sys.executable, "-c", code])
    nodes_dir = lab_dir(lab_name) / "nodes"
    deadline = time.monotonic() + 30
    while not list(nodes_dir.glob("*/console.log")):
        assert child.poll() is None, "the child exited before starting any node"
        assert time.monotonic() < deadline, f"no console.log under {nodes_dir} in 30 s"
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert backend.status(lab_name)  # something was left behind to clean
    backend.down(lab_name)
    assert_no_trace(lab_name)
    backend.down(lab_name)  # idempotent


def test_names_are_checked(backend):
    """Lab and node names become paths: anything but a slug is refused."""
    with pytest.raises(LabError, match="invalid lab name"):
        backend.status("../etc")
    assert container_name("l1", "ctl1") == "sl-l1.ctl1"
    assert lab_dir("l1") == LAB_ROOT / "l1"
