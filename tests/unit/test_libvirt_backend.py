"""The libvirt backend without a hypervisor: its XML against libvirt's schema and its
lifecycle calls against libvirt's own ``test:///default`` driver (no root, no qemu).

Needs libvirt-python and ``virt-xml-validate`` (libvirt-clients + libxml2-utils; `.ci/setup`
installs them): CI runs these. The real boot is tests/lab/test_libvirt_boot.py (nightly).
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab import engine
from lab.backends.base import NodeNic, NodeSpec
from lab.backends.libvirt import backend as lvbackend
from lab.backends.libvirt import disk, domxml
from lab.errors import UsageError
from stacklab import cli
from stacklab.validate import REPO_LABS, validate_file

libvirt = pytest.importorskip("libvirt", reason="libvirt-python missing: pip install '.[libvirt]' (CI installs it)")
LABS = sorted(REPO_LABS.glob("*.yaml"))


def _validate(path: Path) -> None:
    if shutil.which("virt-xml-validate") is None or shutil.which("xmllint") is None:
        pytest.fail("virt-xml-validate/xmllint missing: apt-get install -y libvirt-clients libxml2-utils "
                    "(.ci/setup installs them)")
    done = subprocess.run(["virt-xml-validate", str(path), "domain"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{path.name}: {done.stdout}{done.stderr}"


@pytest.mark.parametrize("lab_file", LABS, ids=[p.stem for p in LABS])
def test_every_domain_xml_of_every_lab_validates(lab_file: Path, tmp_path: Path) -> None:
    topo = validate_file(lab_file).topology
    assert topo is not None
    files = engine.dry_run("lvx", topo, packages=["mariadb-server"], backend="libvirt")
    assert sorted(files) == sorted(f"sl-lvx.{n.name}.xml" for n in topo.expand())
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        _validate(tmp_path / name)


def _spec(node: str = "ctl1") -> NodeSpec:
    return NodeSpec(node, node, None, 512, nics=(NodeNic("mgmt", "mgmt0", "10.0.0.11/24", 1500),
                                             NodeNic("overlay", "ovl0", "10.1.0.11/24", 1450)))


def _domain(node: str, accel: str, tmp_path: Path, lab: str = "lvu") -> domxml.Domain:
    be = lvbackend.LibvirtBackend(uri="test:///default")
    be.accel = accel
    vm = type("Vm", (), {"kernel": tmp_path / "vmlinuz", "initrd": tmp_path / "initrd.img"})()
    return be._domain(lab, _spec(node), vm)


def test_domain_xml_wires_taps_agent_console_and_direct_boot(tmp_path: Path) -> None:
    d = _domain("ctl1", "qemu", tmp_path)
    root = ET.fromstring(domxml.render(d))
    assert root.get("type") == "qemu" and root.findtext("name") == "sl-lvu.ctl1"
    assert root.find("features/tcg/tb-cache").text == str(domxml.TB_CACHE_MIB)
    assert root.findtext("os/kernel") == str(tmp_path / "vmlinuz")
    assert "root=/dev/vda" in root.findtext("os/cmdline")
    nics = root.findall("devices/interface")
    assert [n.get("type") for n in nics] == ["ethernet", "ethernet"]
    assert [n.find("target").get("managed") for n in nics] == ["no", "no"]
    assert [n.find("target").get("dev") for n in nics] == [d.nics[0].tap, d.nics[1].tap]
    assert root.find("devices/channel/target").get("name") == "org.qemu.guest_agent.0"
    assert root.find("devices/serial/log").get("file").endswith("/lvu/nodes/ctl1/console.log")
    assert root.find("seclabel/label").text == "+0:+0"
    assert len({n.tap for n in d.nics}) == 2 and all(len(n.tap) <= 15 for n in d.nics)


def test_domain_defines_on_the_test_driver_with_validation(tmp_path: Path) -> None:
    conn = libvirt.open("test:///default")
    d = _domain("val1", "test", tmp_path)
    dom = conn.defineXMLFlags(domxml.render(d), libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    try:
        back = ET.fromstring(dom.XMLDesc(0))
        assert [i.find("mac").get("address") for i in back.findall("devices/interface")] == [n.mac for n in d.nics]
        assert back.find("memory").text == str(512 * 1024)
    finally:
        dom.undefine()


def test_names_are_stable_distinct_and_fit_the_kernel() -> None:
    taps = {domxml.tap_name(lab, n, net) for lab in ("a", "a-b") for n in ("x1", "b-x1") for net in ("m", "o")}
    assert len(taps) == 8 and all(len(t) <= 15 for t in taps)
    assert domxml.mac_address("ha", "ctl1", "mgmt") == domxml.mac_address("ha", "ctl1", "mgmt")
    assert domxml.split_domain_name("sl-a-b.x1") == ("a-b", "x1")
    assert domxml.split_domain_name("other") is None


def test_identity_names_each_nic_by_mac_and_gives_its_address() -> None:
    nic = domxml.Nic("mgmt", "mgmt0", "10.0.0.11/24", 1400, "52:54:00:01:02:03", "slvtx")
    files = disk.identity_files("ctl1", [nic])
    assert files["/etc/hostname"] == "ctl1\n"
    assert "MACAddress=52:54:00:01:02:03" in files["/etc/systemd/network/10-stacklab-mgmt0.link"]
    assert "Name=mgmt0" in files["/etc/systemd/network/10-stacklab-mgmt0.link"]
    assert "Address=10.0.0.11/24" in files["/etc/systemd/network/10-stacklab-mgmt0.network"]
    assert "MTUBytes=1400" in files["/etc/systemd/network/10-stacklab-mgmt0.network"]
    assert len(files["/etc/machine-id"].strip()) == 32


@pytest.fixture()
def test_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Two defined domains of lab 'lvt' on the test driver, started; files under tmp_path."""
    monkeypatch.setattr(domxml, "LAB_ROOT", tmp_path / "vm")
    be = lvbackend.LibvirtBackend(uri="test:///default")
    conn = be.conn()
    for node in ("n1", "n2"):
        domxml.node_dir("lvt", node).mkdir(parents=True)
        conn.defineXMLFlags(domxml.render(_domain(node, "test", tmp_path, "lvt")),
                            libvirt.VIR_DOMAIN_DEFINE_VALIDATE).create()
    yield be
    for dom in conn.listAllDomains(0):
        if dom.name().startswith("sl-lvt."):
            if dom.isActive():
                dom.destroy()
            dom.undefine()


def test_power_actions_are_destroy_start_suspend_resume(test_lab: lvbackend.LibvirtBackend) -> None:
    be = test_lab
    assert be.status("lvt") == {"n1": "running", "n2": "running"}
    assert "lvt" in be.labs()
    be.power("lvt", "n1", "freeze")
    assert be.status("lvt")["n1"] == "frozen"
    be.power("lvt", "n1", "thaw")
    be.power("lvt", "n2", "off")
    assert be.status("lvt") == {"n1": "running", "n2": "stopped"}
    be.power("lvt", "n2", "off")  # idempotent: already off
    with pytest.raises(Exception, match="no VM n9"):
        be.power("lvt", "n9", "off")
    with pytest.raises(Exception, match=r"state stopped"):
        be.run("lvt", "n2", ["true"])


def test_down_undefines_every_domain_and_removes_the_files(test_lab: lvbackend.LibvirtBackend) -> None:
    be = test_lab
    be.power("lvt", "n1", "freeze")  # a frozen node goes too
    be.down("lvt")
    assert be.status("lvt") == {} and "lvt" not in be.labs()
    assert not domxml.lab_dir("lvt").exists()
    be.down("lvt")  # idempotent


def test_dry_run_writes_every_domain_and_creates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "xml"
    assert cli.main(["up", "control", "--name", "lvdry", "--backend", "libvirt", "--dry-run",
                     "--xml-dir", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["sl-lvdry.cli1.xml", "sl-lvdry.ctl1.xml", "sl-lvdry.ctl2.xml", "sl-lvdry.ctl3.xml"]
    assert "lvdry" not in engine.known_labs()


def test_dry_run_on_lxc_says_what_works(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--backend libvirt"):
        engine.dry_run("lvdry", validate_file(REPO_LABS / "control.yaml").topology, packages=[], backend="lxc")


def test_up_order_disk_then_define_then_taps_start_plug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the test driver, with the root-only host steps recorded instead of run: each node's
    overlay and identity exist before it is defined; its taps are made before the domain starts
    (libvirt opens them at start) and plugged into the fabric only once it runs."""
    monkeypatch.setattr(domxml, "LAB_ROOT", tmp_path / "vm")
    be = lvbackend.LibvirtBackend(uri="test:///default")
    be.accel = "test"
    calls: list[str] = []

    def state(node: str) -> str:
        dom = be._domains("lvo").get(node)
        return "absent" if dom is None else be._state(dom)

    vm = type("Vm", (), {"kernel": tmp_path / "k", "initrd": tmp_path / "i", "base": tmp_path / "b"})()
    monkeypatch.setattr(lvbackend, "ensure_vm_image", lambda img, say: vm)
    def record(line: str, result: object = None) -> object:
        calls.append(line)
        return result

    monkeypatch.setattr(disk, "make_overlay",
                        lambda base, ov: record(f"overlay {ov.parent.name} {state(ov.parent.name)}"))
    monkeypatch.setattr(disk, "write_identity",
                        lambda ov, wd, files: record(f"identity {files['/etc/hostname'].strip()}"))
    monkeypatch.setattr(lvbackend.taps, "prepare", lambda lab, node, nics: record(f"taps {node} {state(node)}", {}))
    monkeypatch.setattr(lvbackend.taps, "plug", lambda lab, node, nics, addrs, st: record(f"plug {node} {state(node)}"))
    monkeypatch.setattr(be, "_system_state", lambda lab, node: "running")
    try:
        be.up("lvo", [_spec("o1"), _spec("o2")], image=None, timeout=5)  # type: ignore[arg-type]
        assert calls == ["overlay o1 absent", "identity o1", "taps o1 stopped", "plug o1 running",
                         "overlay o2 absent", "identity o2", "taps o2 stopped", "plug o2 running"]
        assert be.status("lvo") == {"o1": "running", "o2": "running"}
        assert all(d.isPersistent() for d in be._domains("lvo").values())
        calls.clear()
        be.up("lvo", [_spec("o1"), _spec("o2")], image=None, timeout=5)  # type: ignore[arg-type]
        assert calls == [], "nodes already running are left alone"
    finally:
        be.down("lvo")
    assert be.status("lvo") == {}


def test_accel_override_and_cached_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lab.backends.libvirt import accel

    monkeypatch.setattr(accel, "CACHE", tmp_path / "accel.json")
    monkeypatch.delenv("STACKLAB_LIBVIRT_ACCEL", raising=False)
    assert accel.chosen() == ("qemu", "KVM not probed yet: TCG")
    (tmp_path / "accel.json").write_text('{"type": "kvm", "why": "KVM booted a kernel to its init in 1.2 s"}')
    assert accel.chosen()[0] == "kvm"
    assert accel.decide(None, tmp_path, tmp_path)[0] == "kvm", "a cached verdict is not probed again"
    monkeypatch.setenv("STACKLAB_LIBVIRT_ACCEL", "tcg")
    assert accel.chosen() == ("qemu", "STACKLAB_LIBVIRT_ACCEL=tcg")
