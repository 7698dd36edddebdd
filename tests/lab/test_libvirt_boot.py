"""A real VM lab (nightly): 3 TCG VMs on two networks ping each other through the lab's
fabric bridges, link faults act on the fabric side of a VM's NIC, power actions work, and
``down`` leaves nothing (domains, taps, overlays, namespaces).

Needs root, `.ci/setup --libvirt` (libvirtd, qemu, the libvirt-qemu user) and minutes of
CPU: booting Debian under TCG on a shared 2-core host takes ~1-3 minutes per lab.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab import engine, linkfaults
from lab.model import Topology
from tests.lab.conftest import ROOT, SERVICE_PACKAGES, cli, require_root, wait_for
from tests.lab.leaks import leftovers

pytestmark = [pytest.mark.root, pytest.mark.nightly]

TOPOLOGY = {"networks": {"m": {"cidr": "10.77.0.0/24"}, "o": {"cidr": "10.78.0.0/24", "mtu": 1450}},
            "nodes": {"v": {"count": 3, "networks": ["m", "o"]}}}


def require_libvirt() -> None:
    require_root()
    pytest.importorskip("libvirt", reason="libvirt-python missing: pip install '.[libvirt]'")
    for tool in ("libvirtd", "qemu-system-x86_64", "qemu-storage-daemon", "debugfs"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found: bash .ci/setup --libvirt")


def ping(lab: str, src: str, address: str, count: int = 1) -> bool:
    done = engine.run(lab, src, ["ping", "-c", str(count), "-W", "3", address.split("/")[0]], timeout=30)
    return done.ok


def test_three_vms_ping_across_two_networks_and_leave_nothing(lab_name: str) -> None:
    require_libvirt()
    topo = Topology.model_validate(TOPOLOGY)
    t0 = time.monotonic()
    st = engine.up(lab_name, topo, packages=SERVICE_PACKAGES, backend="libvirt", boot_timeout=900)
    try:
        print(f"3 TCG VMs up in {time.monotonic() - t0:.1f} s")
        lab = engine.open_lab(lab_name)
        assert lab.backend.capabilities.shared_clock is False
        for node in st.nodes:
            assert engine.run(lab_name, node, ["hostname"]).stdout.strip() == node
        addrs = {n: info["addresses"] for n, info in st.nodes.items()}
        for dst in ("v2", "v3"):
            for net in ("m", "o"):
                assert ping(lab_name, "v1", addrs[dst][net]), f"v1 -> {dst} on {net}"
        mtu = engine.run(lab_name, "v2", ["cat", "/sys/class/net/o0/mtu"]).stdout.strip()
        assert mtu == "1450"
        # A link fault on the fabric side of a VM's NIC cuts that network only.
        linkfaults.link_down(lab_name, "v3", "m")
        assert not ping(lab_name, "v1", addrs["v3"]["m"])
        assert ping(lab_name, "v1", addrs["v3"]["o"])
        linkfaults.link_up(lab_name, "v3", "m")
        assert ping(lab_name, "v1", addrs["v3"]["m"], count=3)
        # Suspend/resume, then a pulled plug and a cold boot: the taps go out and back in.
        lab.backend.power(lab_name, "v2", "freeze")
        assert lab.backend.status(lab_name)["v2"] == "frozen"
        lab.backend.power(lab_name, "v2", "thaw")
        lab.backend.power(lab_name, "v3", "off")
        assert lab.backend.status(lab_name)["v3"] == "stopped"
        t1 = time.monotonic()
        lab.backend.power(lab_name, "v3", "on", timeout=900)
        print(f"v3 cold boot (power on) in {time.monotonic() - t1:.1f} s")
        assert ping(lab_name, "v1", addrs["v3"]["o"], count=3)
        mem = {n: lab.backend.memory_bytes(lab_name, n) for n in st.nodes}
        print("qemu RSS per VM (MiB):", {n: round((m or 0) / 2**20) for n, m in mem.items()})
    finally:
        engine.down(lab_name)
    assert leftovers(lab_name) == []


@pytest.mark.parametrize("point", ["tap", "domain"])
def test_sigkill_mid_up_then_down_leaves_nothing(point: str, lab_name: str, tmp_path: Path) -> None:
    """SIGKILL `stacklab up --backend libvirt` when the first tap exists in the root namespace
    (before libvirt opened it) or when the first VM runs (mid-boot); `down` removes it all."""
    require_libvirt()
    lab_file = ROOT / "scenarios/labs/control.yaml"  # killed before any VM finished booting
    seen = {"tap": lambda: f"slvm lab={lab_name} " in _root_links(),
            "domain": lambda: any(Path("/run/libvirt/qemu").glob(f"sl-{lab_name}.*.pid"))}[point]
    with (tmp_path / "up.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "stacklab.cli", "up", str(lab_file), "--name", lab_name,
                                 "--backend", "libvirt"], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            wait_for(lambda: seen() or proc.poll() is not None, 900, f"{point} of {lab_name}", interval=0.01)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert cli("down", lab_name).returncode == 0
    assert leftovers(lab_name) == [], (tmp_path / "up.log").read_text()[-2000:]


def _root_links() -> str:
    return subprocess.run(["ip", "-o", "-d", "link"], capture_output=True, text=True, check=False).stdout
