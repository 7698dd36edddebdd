"""Node selectors: one grammar (checks.cluster) for validation, `stacklab fault` and the runner."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from checks import cluster
from lab.errors import LabError

NODES = {"ctl1": ("controller",), "ctl2": ("controller",), "cmp1": ("compute",), "cli1": ("client",)}


@pytest.mark.parametrize(("text", "kind", "nodes"), [
    ("cmp1", "node", ["cmp1"]),
    ("role:controller", "role", ["ctl1", "ctl2"]),
    ("@fault:down", "fault", ["ctl2"]),
])
def test_each_kind_expands_to_its_nodes(text: str, kind: str, nodes: list[str]) -> None:
    sel = cluster.parse_selector(text, NODES, fault_ids={"down"})
    assert sel.kind == kind
    assert cluster.expand(sel, NODES, fault_nodes={"down": ["ctl2"]}) == nodes


@pytest.mark.parametrize(("text", "message"), [
    ("ctl9", "unknown node 'ctl9'; nodes: ctl1, ctl2, cmp1, cli1; or role:NAME, @vip_holder, @galera_primary, @random"),
    ("role:storage", "no node has role 'storage'; roles in this lab: client, compute, controller"),
    ("@fault:x", "'@fault:x' names no earlier fault step; no earlier fault step has an id"),
])
def test_a_bad_selector_says_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(LabError) as e:
        cluster.parse_selector(text, NODES)
    assert str(e.value) == message


def test_dynamic_selectors_need_their_role_and_a_running_cloud() -> None:
    with pytest.raises(LabError, match="@vip_holder needs controller nodes; this lab has none"):
        cluster.parse_selector("@vip_holder", {"cli1": ("client",)})
    sel = cluster.parse_selector("@vip_holder", NODES)
    assert cluster.selected_roles(sel, NODES) == ("controller",)
    with pytest.raises(LabError, match="needs a deployed cloud"):
        cluster.expand(sel, NODES)
    assert cluster.expand(sel, NODES, ask=lambda name: "ctl2") == ["ctl2"]


def test_random_draws_from_the_seeded_rng() -> None:
    inv = SimpleNamespace(hosts={n: SimpleNamespace(roles=r) for n, r in NODES.items()})
    picks = [cluster.select("@random", inv, random.Random(7)) for _ in range(2)]  # type: ignore[arg-type]
    assert picks[0] == picks[1] and picks[0][0] in NODES
