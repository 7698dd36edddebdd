"""Lab lifecycle: topology -> fabric + nodes (up), and everything gone again (down).

``up`` records the lab in its state file before it creates anything, so a harness
killed half-way leaves a lab that ``down`` can find; ``down`` also discovers what a
lab made from the kernel and the disk (namespaces and lxc dirs carry the lab name),
so it works with a stale, unreadable or missing state file.

Example::

    st = up("demo", topology, packages=image_packages(), source="scenarios/labs/ha.yaml")
    run("demo", "ctl1", ["hostname"]).stdout     # 'ctl1\\n'
    down("demo")
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from lab import backends, fabric, image, linkfaults, netns
from lab import state as labstate
from lab.backends import BACKENDS, DEFAULT
from lab.backends.base import Backend, Completed, NodeNic, NodeSpec
from lab.errors import LabError, UsageError
from lab.model import DHCP_SERVER_ROLE, Topology, address_plan

Progress = Callable[[str], None]
__all__ = ["BACKENDS", "DEFAULT", "get_backend"]


def get_backend(name: str) -> Backend:
    return backends.get(name)


def topology_hash(topo: Topology) -> str:
    """Content hash of a topology: a kept lab is reusable when the hash matches."""
    canon = json.dumps(topo.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def fabric_plan(lab: str, topo: Topology) -> fabric.FabricPlan:
    plan = address_plan(topo)
    mtu = {(ln.node, ln.network): ln.mtu for ln in topo.links if ln.mtu}
    rates = topo.rates()
    nodes = topo.expand()
    return fabric.FabricPlan(
        lab=lab,
        networks=[fabric.NetworkPlan(name, net.mtu, net.vlan) for name, net in topo.networks.items()],
        nodes=[n.name for n in nodes],
        attachments=[
            fabric.Attachment(n.name, net, n.ifname(net), str(plan[n.name].get(net, "")),
                              mtu.get((n.name, net)) or topo.networks[net].mtu, rates.get((n.name, net)),
                              dhcp=topo.networks[net].dhcp and DHCP_SERVER_ROLE not in n.roles)
            for n in nodes for net in n.networks
        ],
    )


def known_labs() -> set[str]:
    """Every lab with a trace on this host: a state file, a namespace, or a backend's nodes."""
    on_disk = {lab for be in backends.every() for lab in be.labs()}
    return labstate.labs_with_state() | fabric.list_labs() | on_disk


def up(lab: str, topo: Topology, *, packages: list[str], backend: str = DEFAULT, source: str = "",
       progress: Progress = print, boot_timeout: float = 120.0) -> labstate.LabState:
    """Build the image if needed, wire the fabric, boot every node. All or nothing."""
    labstate.checked(lab)  # before the image build: a bad name costs nothing
    be = get_backend(backend)
    if not be.capabilities.dhcp_networks and (dhcp := [n for n, net in topo.networks.items() if net.dhcp]):
        raise UsageError(f"networks {', '.join(dhcp)} have dhcp: true, which the {backend} backend cannot "
                         f"build (its nodes' addresses are set in their disks); use the lxc backend")
    be.preflight()
    image.preflight()
    img = image.ensure_image(packages, progress=progress)
    created = False
    try:
        with labstate.locked(lab):
            _refuse_existing(lab)
            st = _new_state(lab, topo, backend, source, img.hash)
            labstate.save(st)  # first, so a SIGKILL from here on leaves a findable lab
            created = True
            try:
                _bring_up(st, topo, be, img, progress, boot_timeout)
            except BaseException:
                progress(f"lab {lab}: up failed, removing what was created")
                _teardown(lab, be)
                raise
            st.phase = "up"
            labstate.save(st)
    except BaseException:
        if created:  # a failed up leaves nothing, not even its lock file
            labstate.forget_lock(lab)
        raise
    return st


def _refuse_existing(lab: str) -> None:
    old = labstate.load(lab)
    if old is not None:
        raise LabError(f"lab '{lab}' already exists (phase {old.phase}, from {old.source or 'unknown'}); "
                       f"run `stacklab down {lab}` first or choose another --name")
    if lab in known_labs():
        raise LabError(f"lab '{lab}' has leftovers from a run that was killed; `stacklab down {lab}` removes them")


def _new_state(lab: str, topo: Topology, backend: str, source: str, image_hash: str) -> labstate.LabState:
    plan = address_plan(topo)
    nodes = {n.name: {"group": n.group, "roles": list(n.roles),
                      "addresses": {net: str(a) for net, a in plan[n.name].items()}} for n in topo.expand()}
    return labstate.LabState(lab=lab, backend=backend, source=source, topology=topo.model_dump(mode="json"),
                             topology_hash=topology_hash(topo), image=image_hash, nodes=nodes)


def _bring_up(st: labstate.LabState, topo: Topology, be: Backend, img: image.Image, progress: Progress,
              boot_timeout: float) -> None:
    t0 = time.monotonic()
    fabric.build(fabric_plan(st.lab, topo))
    if shaped := linkfaults.standing_rates(st.lab):
        progress(f"lab {st.lab}: standing link rates on {', '.join(shaped)}")
    t1 = time.monotonic()
    progress(f"lab {st.lab}: fabric with {len(topo.networks)} networks wired in {t1 - t0:.2f} s")
    specs = node_specs(st.lab, topo)
    be.up(st.lab, specs, img, timeout=boot_timeout)
    progress(f"lab {st.lab}: {len(specs)} nodes booted in {time.monotonic() - t1:.2f} s")
    hosts = hosts_file(st)
    for spec in specs:
        be.run(st.lab, spec.name, ["/bin/sh", "-c", "cat > /etc/hosts"], input=hosts, timeout=30)


def node_specs(lab: str, topo: Topology) -> list[NodeSpec]:
    """What the backend boots: each node with its namespace, memory and planned NICs."""
    atts = fabric_plan(lab, topo).attachments
    return [NodeSpec(n.name, n.name, fabric.node_netns(lab, n.name), n.memory_mib, n.cpus,
                     tuple(NodeNic(a.network, a.ifname, a.address, a.mtu, a.rate_mbit)
                           for a in atts if a.node == n.name))
            for n in topo.expand()]


def dry_run(lab: str, topo: Topology, *, packages: list[str], backend: str) -> dict[str, str]:
    """What ``up`` would have the backend define (file name -> text); builds, wires and
    starts nothing (the image is named by its hash, not built)."""
    labstate.checked(lab)
    path = image.DEFAULT_CACHE / image.image_hash(packages)
    img = image.Image(path.name, path, path / "rootfs", {})
    return get_backend(backend).describe(lab, node_specs(lab, topo), img)


def hosts_file(st: labstate.LabState) -> str:
    """/etc/hosts for every node: each node's first network address and its name."""
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
    for name, node in st.nodes.items():
        addrs = list(node["addresses"].values())
        if addrs:
            lines.append(f"{addrs[0].split('/')[0]} {name}")
    return "\n".join(lines) + "\n"


def down(lab: str, progress: Progress = print) -> bool:
    """Remove every trace of ``lab``; True if there was anything to remove."""
    with labstate.locked(lab):
        try:
            st = labstate.load(lab)
        except LabError:
            st = None  # unreadable state: discovery below still finds everything
        existed = st is not None or lab in known_labs()
        # Without a state file, every backend removes whatever of the lab it finds.
        for be in [get_backend(st.backend)] if st else backends.every():
            _teardown(lab, be)
    labstate.forget_lock(lab)
    if existed:
        progress(f"lab {lab}: down")
    return existed


def _teardown(lab: str, be: Backend) -> None:
    """Nodes first (they sit in the namespaces), then the fabric, then the state."""
    errors = []
    for step in (lambda: be.down(lab), lambda: fabric.destroy(lab), lambda: labstate.remove(lab)):
        try:
            step()
        except (LabError, OSError) as e:  # keep going: leave as little as possible behind
            errors.append(str(e))
    if errors:
        raise LabError(f"lab {lab}: teardown incomplete:\n  " + "\n  ".join(errors))


def require(lab: str | None) -> labstate.LabState:
    """The state of ``lab``, or of the only lab that is up when ``lab`` is None."""
    if lab is None:
        up_labs = sorted(labstate.labs_with_state())
        if len(up_labs) != 1:
            raise LabError("no lab is up" if not up_labs else
                           f"{len(up_labs)} labs are up ({', '.join(up_labs)}); name one with --lab")
        lab = up_labs[0]
    st = labstate.load(lab)
    if st is None:
        hint = f"; leftovers exist: `stacklab down {lab}`" if lab in known_labs() else ""
        raise LabError(f"no lab named '{lab}' is up{hint}")
    if st.phase != "up":
        raise LabError(f"lab '{lab}' is in phase '{st.phase}' (a killed run?); `stacklab down {lab}` removes it")
    return st


@dataclass(frozen=True)
class OpenLab:
    """A running lab opened once: its state as it was when opened, and its backend. Pass
    this through the layers instead of the lab's name, which only the CLI deals in.

    The state is a snapshot: fault bookkeeping (``lab.faults``) re-reads it under the
    lab's lock, because another process may have changed it."""

    state: labstate.LabState
    backend: Backend

    @property
    def name(self) -> str:
        return self.state.lab

    def __str__(self) -> str:
        return self.name

    def nodes(self, role: str | None = None) -> list[str]:
        return [n for n, info in self.state.nodes.items() if role is None or role in info["roles"]]

    def run(self, node: str, argv: list[str], **kw: Any) -> Completed:
        if node not in self.state.nodes:
            raise UsageError(f"lab '{self.name}' has no node '{node}'; nodes: {', '.join(self.state.nodes)}")
        return self.backend.run(self.name, node, argv, **kw)

    def node_states(self) -> dict[str, str]:
        """``{node: running|stopped|frozen|absent}`` now (asked of the backend, not remembered)."""
        return dict(self.backend.status(self.name))


LabRef = Union[str, OpenLab]  # a name (opened on use) or a lab already open


def open_lab(lab: LabRef | None) -> OpenLab:
    """The running lab ``lab`` (the only one up when None), opened; an open lab as it is."""
    if isinstance(lab, OpenLab):
        return lab
    st = require(lab)
    return OpenLab(st, get_backend(st.backend))


def run(lab: LabRef, node: str, argv: list[str], **kw: Any) -> Completed:
    """Run ``argv`` in ``node``; a name is opened for this one call."""
    return open_lab(lab).run(node, argv, **kw)


def _memory_mib(bes: list[Backend], lab: str, node: str) -> int | None:
    """A running node's memory use (its cgroup's), MiB; None when no backend can say."""
    for be in bes:
        try:
            used = be.memory_bytes(lab, node)
        except OSError:  # its cgroup went away while we read (a concurrent down)
            used = None
        if used is not None:
            return round(used / 2**20)
    return None


def status(lab: str) -> dict[str, Any]:
    """What ``stacklab status --json`` prints: the lab and each node's state and addresses.

    Works on any lab with a trace on this host: a half-built one (phase ``creating``,
    a killed ``up``) or one with leftovers but no state file (phase ``leftovers``) is
    reported with what exists, so the user sees what ``down`` will remove."""
    labstate.checked(lab)
    try:
        st = labstate.load(lab)
    except LabError:
        st = None  # unreadable: report what the host has
    if st is None and lab not in known_labs():
        raise LabError(f"no lab named '{lab}' on this host")
    bes = [get_backend(st.backend)] if st else backends.every()
    states = {node: state for be in bes for node, state in be.status(lab).items()}
    try:
        live = fabric.addresses(lab)
    except LabError:
        live = {}  # a namespace vanished while we looked (a concurrent down)
    planned = st.nodes if st else {name: {"roles": [], "addresses": {}} for name in sorted({*states, *live})}
    nodes = [{"name": name, "state": states.get(name, "absent"), "roles": node["roles"],
              "addresses": node["addresses"], "live_addresses": live.get(name, {}),
              "memory_mib": _memory_mib(bes, lab, name) if states.get(name) == "running" else None}
             for name, node in planned.items()]
    made = {"namespaces": len(netns.list_lab_ns(lab)), "containers": len(states),
            "running": sum(1 for s in states.values() if s == "running")}
    found = ",".join(be.name for be in bes if be.status(lab)) if not st else st.backend
    return {"lab": lab, "backend": found or "none", "source": st.source if st else "",
            "phase": st.phase if st else "leftovers", "image": st.image if st else "",
            "topology_hash": st.topology_hash if st else "", "faults": st.faults if st else [], "nodes": nodes,
            "made": made}
