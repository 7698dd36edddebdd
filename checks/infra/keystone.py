"""Checks that every controller's Keystone answers as one cloud (docs/keystone-cache.md).

Both write through one controller and ask every other controller directly (its own
``IP:5001``, not the VIP), from a lab node, with throwaway entities the in-node script
deletes again (``checks/probes/keystone_coherence.py``). They take a few seconds and
create and delete users and projects, so the healthy suite runs them once per healthy
step, after the polled checks pass (``CheckSpec.once``), not on every poll.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from checks.probes import run_once
from checks.registry import Verdict, check
from lab.errors import LabError

if TYPE_CHECKING:
    from checks.infra.base import Lab

COHERENT_BOUND_S = 1.0  # an update must be read back from every controller within this
DISABLE_BOUND_S = 2.0  # a disabled project or user gets no token from any controller after this
READS = 3  # reads per controller after each update (round-robin through the VIP would spread 9)


def run_script(lab: Lab, mode: str, **args: Any) -> dict[str, Any]:
    """Run the in-node script in ``mode`` on the prober node, against every controller that is up."""
    from deployer.roles.keystone import PORT  # here: check modules stay cheap to import (validate)

    ctls = lab.up(lab.controllers())
    urls = {c: f"http://{lab.inv.hosts[c].ip('mgmt')}:{PORT}/v3" for c in ctls}
    try:
        result: dict[str, Any] = run_once(lab.name, lab.prober(), "keystone_coherence", mode,
                                          {"controllers": urls, **args}, timeout=300)
    except LabError as e:
        result = {"error": str(e)}
    return result


@check("keystone_coherent", "an update through any controller's Keystone is read back from every one",
       roles=("controller",), needs="clouds", once=True)
def keystone_coherent(lab: Lab, v: Verdict) -> None:
    """An update through any controller is what every controller reads back, within 1 s."""
    out = run_script(lab, "coherent", bound_s=COHERENT_BOUND_S, reads=READS)
    if "error" in out:
        v.fail(out["error"])
        return
    stale = 0
    for up in out["updates"]:
        first = up["first"]
        stale += sum(1 for a in first.values() for r in a["read"] if r != up["want"])
        if up["status"] != 200:
            v.fail(f"update through {up['writer']}: HTTP {up['status']}")
        elif up["converged_s"] is None:
            lagging = {n: a["read"] for n, a in up["last"].items() if not a["ok"]}
            v.fail(f"description set to {up['want']} through {up['writer']}: after {COHERENT_BOUND_S:g} s "
                   + ", ".join(f"{n} still reads {r}" for n, r in lagging.items()))
    v.figures["stale_reads_right_after_update"] = stale
    # Seconds until every controller read the new value (0.0: the first read already did).
    v.figures["converged_s"] = max(COHERENT_BOUND_S if u["converged_s"] is None else u["converged_s"]
                                   for u in out["updates"])


@check("keystone_disable_enforced", "a disabled project or user gets no token from any controller",
       roles=("controller",), needs="clouds", once=True)
def keystone_disable_enforced(lab: Lab, v: Verdict) -> None:
    """A disabled project, then a disabled user, gets no token from any controller within 2 s."""
    out = run_script(lab, "disable", bound_s=DISABLE_BOUND_S)
    if "error" in out:
        v.fail(out["error"])
        return
    refused_before = {n: code for n, code in out["before"].items() if code != 201}
    if refused_before:
        v.fail(f"the test user got no token before any disable: {refused_before}")
        return
    for d in out["disables"]:
        v.figures[f"{d['what']}_tokens_after_disable"] = d["tokens_after_disable"]
        v.figures[f"{d['what']}_refused_after_s"] = d["refused_s"]
        if d["status"] != 200:
            v.fail(f"disabling the {d['what']} through {d['writer']}: HTTP {d['status']}")
        elif d["refused_s"] is None:
            issuing = [n for n, a in d["last"].items() if not a["ok"]]
            v.fail(f"{d['what']} disabled through {d['writer']}: {', '.join(issuing)} still issue tokens "
                   f"after {DISABLE_BOUND_S:g} s ({d['tokens_after_disable']} issued since the disable)")
