"""Clocks as the services see them, and what Keystone does when a controller's is off.

``service_clocks`` measures each node's offset as its services see it: for every unit
the deployed components run, the environment of its main process is read from
``/proc``; where it preloads libfaketime (a ``clock_skew`` fault on a node that shares
the host's kernel clock), the time a process with exactly that environment reads is
compared with the node's clock. A node with its own clock is chrony_synced's to judge.

``keystone_tokens_cross`` issues a token at each controller's Keystone directly (not
through the VIP, whose round robin hits a given controller one time in N) and presents
it with the ``openstack`` client to every other controller's Keystone, which validates
it before answering (``--os-auth-type v3token``: the way a service or a user with a
token re-authenticates). Fernet tokens carry their expiry: a Keystone whose clock is
behind by more than the token lifetime issues tokens that every other Keystone finds
expired; one ahead finds every other's tokens expired.

Example::

    run_check("service_clocks", open_lab("c1")).figures  # {'max_offset_s': 0.0, 'offsets_s': {...}}
"""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from typing import TYPE_CHECKING

from checks.registry import Verdict, check

if TYPE_CHECKING:
    from checks.infra.base import Lab

MAX_SERVICE_OFFSET_S = 0.5  # a process's clock next to its node's: libfaketime is exact, so any skew shows
# Reads each unit's main-process environment and, when it preloads libfaketime, the time a
# process with that environment sees; prints {unit: offset_s | null (not running)}.
CLOCK_SCRIPT = r"""
import json, os, subprocess, sys, time
FAKE = ("LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC", "FAKETIME_NO_CACHE")
out = {}
for unit in sys.argv[1:]:
    pid = subprocess.run(["systemctl", "show", "-p", "MainPID", "--value", unit],
                         capture_output=True, text=True).stdout.strip()
    try:
        env = dict(v.split("=", 1) for v in open(f"/proc/{pid}/environ").read().split("\0") if "=" in v)
    except (OSError, ValueError):
        out[unit] = None
        continue
    fake = {k: v for k, v in env.items() if k in FAKE}
    if "faketime" not in fake.get("LD_PRELOAD", ""):
        out[unit] = 0.0
        continue
    before = time.time()
    seen = float(subprocess.run(["date", "+%s.%N"], env={"PATH": "/usr/bin:/bin", **fake},
                                capture_output=True, text=True, check=True).stdout)
    out[unit] = round(seen - (before + time.time()) / 2, 3)
print(json.dumps(out))
"""


def units_by_node(lab: Lab) -> dict[str, list[str]]:
    from checks.infra.common import expected_units

    by_node: dict[str, list[str]] = {}
    for node, unit in expected_units(lab):
        if "*" not in unit:  # a template pattern names no process of its own
            by_node.setdefault(node, []).append(unit)
    return by_node


@check("service_clocks", "every service reads its node's clock (no clock_skew left in force)")
def service_clocks(lab: Lab, v: Verdict) -> None:
    """Each node's offset as its services see it; a skew of more than 0.5 s fails."""
    from checks.infra.base import side_by_side

    by_node = units_by_node(lab)
    nodes = lab.up(sorted(by_node))
    read = side_by_side(lambda node: lab.host(node).run(
        f"/usr/bin/python3 -c {shlex.quote(CLOCK_SCRIPT)} {shlex.join(by_node[node])}"), nodes)
    offsets: dict[str, dict[str, float | None]] = {}
    for node, done in zip(nodes, read, strict=True):
        try:
            offsets[node] = json.loads(done.stdout)
        except ValueError:
            v.fail(f"{node}: reading the services' clocks failed: {(done.stderr or done.stdout).strip()[-200:]}")
            continue
        for unit, offset in offsets[node].items():
            if offset is not None and abs(offset) > MAX_SERVICE_OFFSET_S:
                v.fail(f"{node}: {unit} sees the clock {offset:+.1f} s off the node's (libfaketime in its "
                       "environment: a clock_skew fault)")
    seen = [abs(o) for per in offsets.values() for o in per.values() if o is not None]
    v.figures["offsets_s"] = {n: {u: o for u, o in per.items() if o} for n, per in offsets.items()}
    v.figures["max_offset_s"] = max(seen, default=0.0)


def _expires(text: str) -> float | None:
    """Epoch seconds of the ``expires`` field of ``openstack token issue -f json``."""
    try:
        return datetime.fromisoformat(json.loads(text)["expires"].replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError):
        return None


@check("keystone_tokens_cross", "a token issued by each controller's Keystone is accepted by every other one",
       roles=("controller",), needs="clouds", once=True)
def keystone_tokens_cross(lab: Lab, v: Verdict) -> None:
    """Issue at each controller (openstack CLI, admin of clouds.yaml, straight to its port
    5001), then present each token to every other controller with the CLI."""
    from checks.infra.base import side_by_side
    from deployer.roles.keystone import PORT

    node = lab.prober()
    ctls = lab.up(lab.controllers())
    url = {c: f"http://{lab.inv.hosts[c].ip(lab.inv.vip_network)}:{PORT}/v3" for c in ctls}
    base = "openstack --os-cloud stacklab --os-auth-url {url} token issue -f json"

    def issue(ctl: str) -> tuple[str, float | None, str]:
        cmd = f"date +%s; {base.format(url=url[ctl])}; date +%s.%N"
        done = lab.host(node).run(cmd)
        lines = done.stdout.strip().splitlines()
        if done.rc != 0 or len(lines) < 3:
            return "", None, (done.stderr or done.stdout).strip()[-200:]
        # the token is issued at the end of the CLI's run (its start-up takes seconds): its
        # expiry - lifetime is compared with the time the CLI ended, rounded to seconds
        done_at, body = float(lines[-1]), "\n".join(lines[1:-1])
        try:
            token = str(json.loads(body)["id"])
        except (ValueError, KeyError, TypeError):
            return "", None, f"no token in: {body[-200:]}"
        expires = _expires(body)
        keystone_offset = None if expires is None else expires - lab.cloud.keystone.token_expiration - done_at
        return token, keystone_offset, ""

    issued = dict(zip(ctls, side_by_side(issue, ctls), strict=True))
    v.figures["keystone_offset_s"] = {c: round(o, 0) if o is not None else None for c, (_, o, _) in issued.items()}
    pairs = [(a, b) for a in ctls for b in ctls if a != b and issued[a][0]]
    for ctl, (_, _, err) in issued.items():
        if err:
            v.fail(f"{node}: openstack token issue at {ctl} failed: {err}")

    def present(pair: tuple[str, str]) -> str:
        a, b = pair
        cmd = (f"OS_TOKEN={shlex.quote(issued[a][0])} openstack --os-auth-type v3token --os-auth-url {url[b]} "
               "--os-project-name admin --os-project-domain-name Default token issue -f value -c id")
        done = lab.host(node).run(cmd)
        said = (done.stderr or done.stdout).strip().splitlines()
        return "" if done.rc == 0 else (said[-1][:200] if said else f"exit {done.rc}")

    refused = dict(zip(pairs, side_by_side(present, pairs), strict=True))
    v.figures["refused"] = {f"{a}->{b}": why for (a, b), why in refused.items() if why}
    for (a, b), why in refused.items():
        if why:
            v.fail(f"a token issued by {a}'s Keystone is refused by {b}'s: {why}")
