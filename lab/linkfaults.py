"""Link-level faults, all applied on the FABRIC side so a node cannot undo them.

Kernel mechanisms (this kernel has no netem, no tc classifiers, no bridge VLAN filtering):

* ``link_down``/``link_up``: the fabric-side veth goes down/up; the node's interface
  loses carrier (NO-CARRIER), as when a cable is pulled.
* ``link_loss``: nftables ``numgen random`` drop rules in ``table bridge stacklab`` of
  the fabric namespace, on frames entering the bridge from the port AND leaving it
  toward the port; a round trip through one lossy link at p is lost with 1-(1-p)².
* ``link_rate``: toward the node a ``tbf`` qdisc on the fabric-side veth (true shaping,
  queues up to 50 ms); from the node an nft ``limit rate over ... drop`` policer (no
  ifb redirect without tc classifiers). nft byte limits hold one second of tokens, so
  the first second after a pause may pass up to twice the rate.
* ``set_mtu``: the one exception, it changes the node-side interface (that is the fault).
* ``partition``: nft rules dropping frames between ports of different groups.
* standing rates (``rate_mbit`` in the lab file: a 100 Mbit NIC) are the same shaping,
  applied when the lab is built (``standing_rates``); they are part of the lab, not a
  fault, so ``heal`` and a ``link_rate`` fault's undo return a link to its planned rate.
* ``heal`` undoes all of them; ``restore_node`` returns one node's interfaces to the
  plan (power-on); ``active`` reports what is in force.

State lives in the kernel only (nft rule comments, qdiscs, link flags, the ports'
ifalias), so heal works after a crash. Faults compose: loss on several links, loss
plus rate, partition plus loss. Single writer: the runner applies faults one at a time.

>>> link_loss("ha", "cmp1", "overlay", 30)      # doctest: +SKIP
>>> partition("ha", [["ctl1"], ["ctl2", "ctl3"]])  # doctest: +SKIP
>>> heal("ha")                                  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable

from lab import netns
from lab.errors import LabError
from lab.fabric import Port, find_port, ports
from lab.netns import FABRIC

TABLE = "stacklab"
_CHAINS = ("partition", "loss", "rate")  # evaluated in this order for every bridged frame
_TBF_LATENCY_MS = 50


def link_down(lab: str, node: str, network: str) -> None:
    """Pull the cable: the fabric-side veth of node/network goes down."""
    _set_state(lab, find_port(lab, node, network), "down")


def link_up(lab: str, node: str, network: str) -> None:
    """Plug the cable back in."""
    _set_state(lab, find_port(lab, node, network), "up")


def _set_state(lab: str, port: Port, state: str) -> None:
    with netns.rtnl(lab, FABRIC) as ipr:
        ipr.link("set", index=port.index, state=state)


def link_loss(lab: str, node: str, network: str, percent: float) -> None:
    """Drop ``percent`` % of frames in each direction of node/network; 0 removes the loss.

    Replaces an earlier loss on the same link; other links' loss is untouched.
    """
    if not 0 <= percent <= 100:
        raise LabError(f"link_loss percent must be within 0..100, got {percent}")
    port = find_port(lab, node, network)
    rules = []
    if percent > 0:
        # numgen mod 10000 gives 0.01 % resolution; "< 10000" is always true (100 %).
        cut = round(percent * 100)
        rules = [f'{d} "{port.name}" numgen random mod 10000 < {cut} drop comment "{port.name}"'
                 for d in ("iifname", "oifname")]
    _replace_rules(lab, "loss", port.name, rules)


def link_rate(lab: str, node: str, network: str, mbit: float | None) -> None:
    """Limit node/network to ``mbit`` Mbit/s each way; None returns it to its planned
    standing rate (no limit when the lab file gives none).

    Toward the node: tbf on the fabric-side veth. From the node: an nft policer on frames
    entering the bridge from that port (counted at L2, without the Ethernet header).
    """
    _shape(lab, find_port(lab, node, network), mbit)


def standing_rates(lab: str, node: str | None = None) -> list[str]:
    """Shape every link (of ``node``, or all) whose plan has a standing rate; the links
    shaped (``node/net``)."""
    shaped = [p for p in ports(lab) if p.rate_mbit and node in (None, p.node)]
    for port in shaped:
        _shape(lab, port, None)
    return [f"{p.node}/{p.network}" for p in shaped]


def _shape(lab: str, port: Port, mbit: float | None) -> None:
    if mbit is None:
        mbit = port.rate_mbit
    if mbit is None:
        _tc(lab, ["qdisc", "del", "dev", port.name, "root"], missing_ok=True)
        _replace_rules(lab, "rate", port.name, [])
        return
    if mbit <= 0:
        raise LabError(f"link_rate mbit must be > 0 (or None to remove), got {mbit}")
    bytes_s = int(mbit * 1e6 / 8)
    # Burst: 10 ms worth, but never below two full frames or a frame could never pass.
    burst = max(bytes_s // 100, 2 * (port.mtu + 18), 3200)
    _tc(lab, ["qdisc", "replace", "dev", port.name, "root", "tbf", "rate", f"{int(mbit * 1e6)}bit",
              "burst", str(burst), "latency", f"{_TBF_LATENCY_MS}ms"])
    rule = (f'iifname "{port.name}" limit rate over {bytes_s} bytes/second burst {burst} bytes '
            f'drop comment "{port.name}"')
    _replace_rules(lab, "rate", port.name, [rule])


def set_mtu(lab: str, node: str, network: str, mtu: int) -> None:
    """Set the MTU of the node's interface on ``network`` (the node side; heal restores it)."""
    port = find_port(lab, node, network)
    with netns.rtnl(lab, node) as ipr:
        found = ipr.link_lookup(ifname=port.ifname)
        if not found:
            raise LabError(f"node {node} has no interface {port.ifname} in lab '{lab}'")
        ipr.link("set", index=found[0], mtu=mtu)


def partition(lab: str, groups: list[list[str]]) -> None:
    """Cut the lab into ``groups``: frames between nodes of different groups are dropped
    on every network, both ways. Nodes in no group keep talking to everyone. Replaces
    any earlier partition; ``[]`` removes it.
    """
    by_node: dict[str, list[str]] = {}
    for port in ports(lab):
        by_node.setdefault(port.node, []).append(port.name)
    seen: set[str] = set()
    for node in (n for group in groups for n in group):
        if node not in by_node:
            raise LabError(f"partition: lab '{lab}' has no node '{node}'; nodes: {', '.join(sorted(by_node))}")
        if node in seen:
            raise LabError(f"partition: node '{node}' is in more than one group")
        seen.add(node)
    sides = [sorted(p for n in group for p in by_node[n]) for group in groups]
    rules = [f"iifname {_set(a)} oifname {_set(b)} drop comment \"partition\""
             for i, a in enumerate(sides) for j, b in enumerate(sides) if i != j and a and b]
    _replace_rules(lab, "partition", "partition", rules)


def heal(lab: str, keep_down: Iterable[str] = ()) -> None:
    """Undo every link fault of ``lab``: nft table, qdiscs, links down, node-side MTUs.

    ``keep_down`` names nodes whose links must stay down (powered-off nodes: their
    container is stopped and a live netns would answer for a VIP otherwise).
    """
    keep = set(keep_down)
    gone = netns.run(lab, FABRIC, ["nft", "delete", "table", "bridge", TABLE], check=False)
    if gone.returncode != 0 and "No such file" not in gone.stderr:
        raise LabError(f"heal: removing nft table {TABLE} of lab '{lab}' failed: {gone.stderr.strip()}")
    all_ports = ports(lab)
    with netns.rtnl(lab, FABRIC) as ipr:
        shaped = {q["index"] for q in ipr.get_qdiscs() if q.get_attr("TCA_KIND") == "tbf"}
        for port in all_ports:
            ipr.link("set", index=port.index, state="down" if port.node in keep else "up")
    for port in (p for p in all_ports if p.index in shaped):
        _tc(lab, ["qdisc", "del", "dev", port.name, "root"], missing_ok=True)
    for node in sorted({p.node for p in all_ports}):
        with netns.rtnl(lab, node) as ipr:
            for port in (p for p in all_ports if p.node == node):
                for index in ipr.link_lookup(ifname=port.ifname):
                    ipr.link("set", index=index, mtu=port.mtu)
    for port in (p for p in all_ports if p.rate_mbit):  # the lab's own rates are not faults
        _shape(lab, port, None)


def restore_node(lab: str, node: str) -> None:
    """Give a node's interfaces their planned state, as a fresh boot would: planned MTU,
    only the planned address (a VIP left from before a power-off is removed), links up.

    For power-on: the netns outlived the stopped container, and with it every address
    keepalived had added. Other nodes' faults (loss, partition) are left as they are.
    """
    node_ports = [p for p in ports(lab) if p.node == node]
    if not node_ports:
        raise LabError(f"lab '{lab}' has no links for node '{node}'")
    from pyroute2 import NetlinkError  # here: importing lab.faults (validate) stays cheap

    planned = {p.ifname for p in node_ports} | {"lo"}
    with netns.rtnl(lab, node) as ipr:
        # What the node's services made in its namespace (Neutron's bridges, VXLAN and tap
        # devices) outlived the container too; a fresh boot has none of it.
        for link in ipr.get_links():
            if link.get("ifname") not in planned:
                # gone already: a veth whose peer's namespace died with the node
                with contextlib.suppress(NetlinkError):
                    ipr.link("del", index=link["index"])
        for port in node_ports:
            index = ipr.link_lookup(ifname=port.ifname)[0]
            ipr.flush_addr(index=index, family=2)
            addr, _, prefix = port.address.partition("/")
            # bare: an unaddressed attachment; a DHCP client after a boot, until it gets a lease
            if addr and not port.dhcp:
                ipr.addr("add", index=index, address=addr, prefixlen=int(prefix or 32))
            ipr.link("set", index=index, mtu=port.mtu, state="up")
    for port in node_ports:
        _set_state(lab, port, "up")


def active(lab: str) -> dict[str, object]:
    """The link faults now in force, read from the kernel (for ``stacklab status``).

    >>> active("ha")  # doctest: +SKIP
    {'down': ['cmp1/mgmt'], 'loss': {'cmp1/overlay': 30.0}, 'rate': {}, 'partition': False}
    """
    by_name = {p.name: p for p in ports(lab)}
    label = {name: f"{p.node}/{p.network}" for name, p in by_name.items()}
    listing = netns.run(lab, FABRIC, ["nft", "-j", "list", "table", "bridge", TABLE], check=False)
    rules = [] if listing.returncode else [i["rule"] for i in json.loads(listing.stdout)["nftables"] if "rule" in i]
    loss = {label[r["comment"]]: _loss_of(r) for r in rules if r["chain"] == "loss" and r.get("comment") in label}
    rate = {label[r["comment"]]: _rate_of(r) for r in rules if r["chain"] == "rate" and r.get("comment") in label
            and not _planned(by_name[r["comment"]], _rate_of(r))}
    with netns.rtnl(lab, FABRIC) as ipr:
        down = sorted(label[link.get("ifname")] for link in ipr.get_links()
                      if link.get("ifname") in label and link.get("state") != "up")
    return {"down": down, "loss": loss, "rate": rate,
            "partition": any(r["chain"] == "partition" for r in rules)}


def _planned(port: Port, mbit: float) -> bool:
    """A rate that is the link's standing one (nft keeps whole bytes/s: compare loosely)."""
    return port.rate_mbit is not None and abs(port.rate_mbit - mbit) < 0.01 * port.rate_mbit


def _loss_of(rule: dict) -> float:
    """Percent from a loss rule's ``numgen ... < N`` match (N in 1/100 %)."""
    return next(e["match"]["right"] / 100 for e in rule["expr"] if "match" in e and e["match"]["op"] == "<")


def _rate_of(rule: dict) -> float:
    """Mbit/s from a rate rule's ``limit rate over N bytes/second``."""
    limit = next(e["limit"] for e in rule["expr"] if "limit" in e)
    scale = {"bytes": 1, "kbytes": 1024, "mbytes": 1024 * 1024}[limit.get("rate_unit", "bytes")]
    return round(limit["rate"] * scale * 8 / 1e6, 3)


def _set(names: list[str]) -> str:
    """An nft anonymous set of interface names: ``{ "a", "b" }``."""
    return "{ " + ", ".join(f'"{n}"' for n in names) + " }"


def _replace_rules(lab: str, chain: str, tag: str, rules: list[str]) -> None:
    """Atomically swap the rules tagged ``tag`` in ``chain`` for ``rules`` (one nft batch)."""
    handles = [r["handle"] for r in _rules(lab) if r["chain"] == chain and r.get("comment") == tag]
    script = [f"delete rule bridge {TABLE} {chain} handle {h}" for h in handles]
    script += [f"add rule bridge {TABLE} {chain} {rule}" for rule in rules]
    if script:
        netns.run(lab, FABRIC, ["nft", "-f", "-"], input="\n".join(script) + "\n")


def _rules(lab: str) -> list[dict]:
    """Every rule of the lab's fault table (creating the table on first use)."""
    listing = netns.run(lab, FABRIC, ["nft", "-j", "-a", "list", "table", "bridge", TABLE], check=False)
    if listing.returncode != 0:
        _create_table(lab)
        return []
    items = json.loads(listing.stdout)["nftables"]
    return [item["rule"] for item in items if "rule" in item]


def _create_table(lab: str) -> None:
    """The fault table: a forward hook jumping to one regular chain per fault kind."""
    lines = [f"add table bridge {TABLE}"]
    lines += [f"add chain bridge {TABLE} {c}" for c in _CHAINS]
    lines.append(f"add chain bridge {TABLE} forward {{ type filter hook forward priority 0; policy accept; }}")
    lines += [f"add rule bridge {TABLE} forward jump {c}" for c in _CHAINS]
    netns.run(lab, FABRIC, ["nft", "-f", "-"], input="\n".join(lines) + "\n")


def _tc(lab: str, args: list[str], missing_ok: bool = False) -> None:
    """Run ``tc`` in the fabric; ``missing_ok`` ignores deleting a qdisc that is not there."""
    proc = netns.run(lab, FABRIC, ["tc", *args], check=not missing_ok)
    if proc.returncode != 0 and not any(s in proc.stderr for s in ("handle of zero", "No such file")):
        raise LabError(f"tc {' '.join(args)} in lab '{lab}' failed: {proc.stderr.strip()}")
