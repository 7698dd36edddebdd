"""Nodes as libvirt/qemu VMs (KVM where a short boot proves it works, else TCG), systemd as PID 1.

Layout of a lab on disk (everything carries the lab's name)::

    /etc/libvirt/qemu/sl-<lab>.<node>.xml                  the persistent domain (libvirt's)
    /var/lib/stacklab-vm/<lab>/nodes/<node>/disk.qcow2     overlay over the VM image's base
    /var/lib/stacklab-vm/<lab>/nodes/<node>/console.log    serial console (virtlogd)
    /var/lib/stacklab-vm/<lab>/nodes/<node>/node.json      the node's NICs (for power-on)

A node is defined once and started; power off = ``destroy`` (the plug is pulled), power on
= ``start`` (a cold boot of the guest kernel), freeze/thaw = ``suspend``/``resume`` (the
vCPUs stop; the guest's clock jumps on resume as a real frozen machine's would).
Commands go through the guest agent (:mod:`.agent`), NICs through taps on the fabric's
bridges (:mod:`.taps`), the disk identity through :mod:`.disk`.

Example::

    be = LibvirtBackend()
    be.up("demo", [NodeSpec("n1", "n1", None, 1024, nics=(NodeNic("mgmt", "mgmt0", "10.0.0.1/24", 1500),))], img)
    be.run("demo", "n1", ["hostname"]).stdout    # 'n1\\n'
"""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lab.backends.base import Backend, Capabilities, Completed, NodeSpec, NodeState, PowerAction
from lab.backends.libvirt import accel, daemon, disk, domxml, taps
from lab.backends.libvirt.agent import AgentError, agent_run
from lab.backends.libvirt.vmimage import ensure_vm_image, vm_image_of
from lab.errors import LabError, NodeBootError, UsageError
from lab.image import Image

NODE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8", "HOME": "/root", "TERM": "dumb"}
TCG_BOOT_TIMEOUT = 600.0  # a cold boot under TCG on a shared 2-core host: minutes, not seconds
_BOOTED = ("running", "degraded")
_STATES = {1: "running", 2: "running", 3: "frozen", 4: "stopped", 5: "stopped", 6: "stopped", 7: "frozen"}


def _say(line: str) -> None:
    print(f"libvirt: {line}", flush=True)


class LibvirtBackend(Backend):
    """VM nodes through libvirt. Needs root, libvirt-python and qemu (see daemon.TOOLS)."""

    name = "libvirt"
    # Each VM has its own kernel: its own clock, and its network stack dies with it.
    capabilities = Capabilities(shared_clock=False, netns_survives_power_off=False)

    def __init__(self, uri: str | None = None) -> None:
        self.uri = uri or os.environ.get("STACKLAB_LIBVIRT_URI", daemon.SYSTEM_URI)
        self.accel = accel.chosen()[0]  # up() probes KVM once per host boot (accel.decide)
        self._conn: Any = None

    def conn(self) -> Any:
        if self._conn is None:
            self._conn = daemon.connect(self.uri, _say)
        return self._conn

    # ------------------------------------------------------------ discovery
    def _domains(self, lab: str) -> dict[str, Any]:
        """``{node: domain}`` of the lab's domains as libvirt knows them."""
        found = {}
        for dom in self.conn().listAllDomains(0):
            parts = domxml.split_domain_name(dom.name())
            if parts and parts[0] == lab:
                found[parts[1]] = dom
        return found

    def _traces(self, lab: str) -> bool:
        """Anything of ``lab`` on disk (without asking libvirt: it may not even be installed)."""
        defined = Path("/etc/libvirt/qemu").glob(f"{domxml.domain_name(lab, '*')}.xml")
        return domxml.lab_dir(lab).exists() or any(defined)

    def labs(self) -> set[str]:
        """Labs with files here or a persistent domain (libvirt's XML files on disk)."""
        root = domxml.LAB_ROOT
        names = {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()
        for xml in Path("/etc/libvirt/qemu").glob(f"{domxml.PREFIX}*.xml"):
            parts = domxml.split_domain_name(xml.stem)
            if parts:
                names.add(parts[0])
        return names

    def status(self, lab: str) -> dict[str, NodeState]:
        if not self._traces(lab):
            return {}
        return {node: self._state(dom) for node, dom in sorted(self._domains(lab).items())}

    def _state(self, dom: Any) -> NodeState:
        state = _STATES.get(dom.state()[0], "stopped")
        return state  # type: ignore[return-value]

    # ------------------------------------------------------------ lifecycle
    def preflight(self) -> None:
        daemon.libvirt_module()
        if self.uri == daemon.SYSTEM_URI:
            daemon.check_host()

    def describe(self, lab: str, nodes: list[NodeSpec], image: Image) -> dict[str, str]:
        vm = vm_image_of(image)
        return {f"{domxml.domain_name(lab, s.name)}.xml": domxml.render(self._domain(lab, s, vm)) for s in nodes}

    def _domain(self, lab: str, spec: NodeSpec, vm: Any) -> domxml.Domain:
        ndir = domxml.node_dir(lab, spec.name)
        nics = tuple(domxml.Nic(n.network, n.ifname, n.address, n.mtu, domxml.mac_address(lab, spec.name, n.network),
                                domxml.tap_name(lab, spec.name, n.network), n.rate_mbit) for n in spec.nics)
        return domxml.Domain(lab, spec.name, spec.memory_mib or domxml.DEFAULT_MEMORY_MIB, self.accel,
                             ndir / "disk.qcow2", vm.kernel, vm.initrd, ndir / "console.log", nics)

    def up(self, lab: str, nodes: list[NodeSpec], image: Image, *, timeout: float = 60.0) -> None:
        """Overlay + identity + definition for each new node, start them all, wait for systemd."""
        vm = ensure_vm_image(image, _say)
        if self.uri == daemon.SYSTEM_URI:  # a real hypervisor (not libvirt's test driver)
            self.accel, why = accel.decide(self.conn(), vm.kernel, vm.initrd)
            _say(f"accelerator {'kvm' if self.accel == 'kvm' else 'tcg'}: {why}")
        states = self.status(lab)
        todo = [s for s in nodes if states.get(s.name, "absent") in ("absent", "stopped")]
        for spec in todo:
            if states.get(spec.name, "absent") == "absent":
                self._create(lab, spec, vm)
            self._start(lab, spec.name)
        self._wait_booted(lab, [s.name for s in todo], self._boot_timeout(timeout), services=True)

    def _boot_timeout(self, timeout: float) -> float:
        return timeout if self.accel == "kvm" else max(timeout, TCG_BOOT_TIMEOUT)

    def _create(self, lab: str, spec: NodeSpec, vm: Any) -> None:
        d = self._domain(lab, spec, vm)
        ndir = domxml.node_dir(lab, spec.name)
        ndir.mkdir(parents=True, exist_ok=True)
        os.chmod(domxml.lab_dir(lab), 0o700)
        (ndir / "node.json").write_text(json.dumps({"nics": [n.__dict__ for n in d.nics]}, indent=1))
        disk.make_overlay(vm.base, d.disk)
        disk.write_identity(d.disk, ndir, disk.identity_files(spec.hostname, d.nics))
        self.conn().defineXML(domxml.render(d))

    def _nics(self, lab: str, node: str) -> list[domxml.Nic]:
        saved = json.loads((domxml.node_dir(lab, node) / "node.json").read_text())
        return [domxml.Nic(**n) for n in saved["nics"]]

    def _start(self, lab: str, node: str) -> None:
        """Taps ready in the root namespace, start the domain, taps into the fabric."""
        nics = self._nics(lab, node)
        port_states = taps.prepare(lab, node, nics)
        self._domains(lab)[node].create()
        taps.plug(lab, node, nics, {n.network: n.address for n in nics}, port_states)

    def _wait_booted(self, lab: str, nodes: list[str], timeout: float, services: bool) -> None:
        if not nodes:
            return
        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            errors = [e for e in pool.map(lambda n: self._boot_report(lab, n, timeout, services), nodes) if e]
        if errors:
            raise NodeBootError(f"lab {lab}: {len(errors)} of {len(nodes)} VM(s) did not boot:\n" + "\n".join(errors))

    def _boot_report(self, lab: str, node: str, timeout: float, services: bool) -> str | None:
        """Poll systemd through the agent until booted; None, or what went wrong."""
        deadline, answer = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            answer = self._system_state(lab, node)
            if answer in _BOOTED or (not services and answer == "starting"):
                return None
            if answer in ("maintenance", "stopping"):
                break
            time.sleep(1.0)  # the agent comes late under TCG; polling faster costs the guest CPU
        log = domxml.node_dir(lab, node) / "console.log"
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:]) if log.exists() else "(no console log)"
        return (f"- {node}: systemctl is-system-running = {answer or 'no answer'!r} (awaited running|degraded "
                f"within {timeout:g} s, {self.accel})\n  console tail:\n{tail}")

    def _system_state(self, lab: str, node: str) -> str:
        try:
            return self.run(lab, node, ["systemctl", "is-system-running"], timeout=10).stdout.strip()
        except LabError:
            return ""

    def down(self, lab: str) -> None:
        """Destroy and undefine every domain, remove taps, exports and files of ``lab``."""
        if not self._traces(lab) and not taps.remove_leftovers(lab):
            return
        errors = []
        for node, dom in self._domains(lab).items():
            try:
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            except Exception as exc:  # keep going: leave as little as possible behind
                errors.append(f"{node}: {exc}")
        taps.remove_leftovers(lab)
        nodes = domxml.lab_dir(lab) / "nodes"
        for ndir in nodes.iterdir() if nodes.is_dir() else []:
            disk.release_exports(ndir)
        shutil.rmtree(domxml.lab_dir(lab), ignore_errors=True)
        if errors or domxml.lab_dir(lab).exists() or self._domains(lab):
            raise LabError(f"down {lab}: could not remove everything: {'; '.join(errors) or 'files or domains left'}")

    def power(self, lab: str, node: str, action: PowerAction, *, timeout: float = 60.0) -> None:
        """off = destroy, on = start + wait for basic boot, freeze/thaw = suspend/resume."""
        dom = self._domains(lab).get(node)
        if dom is None:
            raise LabError(f"lab {lab} has no VM {node} (VMs: {sorted(self._domains(lab))})")
        state = self._state(dom)
        if action == "off" and state != "stopped":
            dom.destroy()
        elif action == "on" and state == "stopped":
            self._start(lab, node)
            self._wait_booted(lab, [node], self._boot_timeout(timeout), services=False)
        elif action == "freeze" and state == "running":
            dom.suspend()
        elif action == "thaw" and state == "frozen":
            dom.resume()
        elif action not in ("off", "on", "freeze", "thaw"):
            raise UsageError(f"unknown power action {action!r}: use off, on, freeze, thaw")

    # --------------------------------------------------------------- console
    def run(self, lab: str, node: str, argv: list[str], *, input: bytes | str | None = None,
            timeout: float | None = 60.0, env: dict[str, str] | None = None) -> Completed:
        dom = self._domains(lab).get(node)
        if dom is None or self._state(dom) != "running":
            state = "absent" if dom is None else self._state(dom)
            raise LabError(f"cannot run {' '.join(argv)} on node {node} of lab {lab} (state {state})")
        data = input.encode() if isinstance(input, str) else input
        start = time.monotonic()
        try:
            rc, out, err = agent_run(dom, argv, env={**NODE_ENV, **(env or {})}, data=data, timeout=timeout)
        except AgentError as exc:
            raise LabError(f"cannot run {' '.join(argv)} on node {node} of lab {lab}: {exc}") from exc
        return Completed(node, list(argv), rc, out, err, round(time.monotonic() - start, 4))

    def shell_argv(self, lab: str, node: str, argv: list[str], env: dict[str, str] | None = None) -> list[str]:
        """The node's serial console (root is logged in there; Ctrl-] leaves). ``argv`` cannot be
        passed through a console: the login shell runs instead."""
        return ["virsh", "-c", self.uri, "console", "--force", domxml.domain_name(lab, node)]

    def memory_bytes(self, lab: str, node: str) -> int | None:
        """Resident memory of the node's qemu process (what the VM costs the host)."""
        pidfile = Path("/run/libvirt/qemu") / f"{domxml.domain_name(lab, node)}.pid"
        try:
            status = Path(f"/proc/{int(pidfile.read_text().strip())}/status").read_text()
        except (OSError, ValueError):
            return None
        rss = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")), None)
        return int(rss) * 1024 if rss else None
