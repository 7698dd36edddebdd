"""Keystone cache settings side by side: latency, behaviour with a dead controller, coherence.

For each ``cloud.keystone.cache`` setting (vip = shipped, pool, off, local, naive) on one
lab of the ``control`` topology: re-deploy with it, measure token issue and project GET
latency through the VIP from the client node (p50/p95, one request after the other),
run the two coherence checks, power off a controller that does NOT hold the VIP (with
``vip``: the one whose memcached serves the cache, the worst such controller), wait
10 s, measure again, heal and wait for the healthy suite. Prints a table and ratios
against the shipped setting; no asserts (docs/keystone-cache.md quotes the figures).

    python -m tests.bench.bench_keystone_cache [--lab NAME] [--tokens 30] [--gets 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path
from typing import Any

from checks.cluster import vip_holders
from checks.ha_run import wait_until
from checks.infra.base import Lab, healthy, open_lab, run_checks, suite
from checks.infra.keystone import run_script
from deployer.catalog import image_packages
from deployer.deploy import deploy
from deployer.model import Cloud
from deployer.roles import memcached
from lab import engine, faults
from lab.faultspec import PowerOff
from stacklab.validate import validate_file

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ("vip", "pool", "off", "local", "naive")
AFTER_FAULT_S = 10.0  # the acceptance's "after 10 s": haproxy and the cache clients have reacted


def percentiles(samples: list[dict[str, Any]]) -> dict[str, Any]:
    ok = sorted(s["s"] for s in samples if s["status"] in (200, 201))
    if not ok:
        return {"p50": None, "p95": None, "failed": len(samples)}
    p95 = ok[min(len(ok) - 1, round(0.95 * (len(ok) - 1)))]
    return {"p50": statistics.median(ok), "p95": p95, "failed": len(samples) - len(ok)}


def measure(lab: Lab, tokens: int = 0, gets: int = 0, seconds: float = 0) -> dict[str, Any]:
    out = run_script(lab, "latency", tokens=tokens, gets=gets, seconds=seconds)
    if "error" in out:  # the client could not even start (its admin token through the VIP failed)
        return {kind: {"p50": None, "p95": None, "failed": "all", "error": out["error"][:120]}
                for kind in ("token", "get")}
    result = {kind: percentiles(out[kind]) for kind in ("token", "get")}
    result["token"]["failed"] += len(out["admin_token_failures"])  # its own token request failed, then was retried
    return result


def wait_healthy(name: str, timeout: float = 300) -> float:
    return wait_until(f"lab {name} healthy", lambda: all(v.ok for v in run_checks(suite(once=False), open_lab(name))),
                      timeout, interval=2)


def one_setting(name: str, cloud: Cloud, cache: str, tokens: int, gets: int) -> dict[str, Any]:
    variant = cloud.model_copy(update={"keystone": cloud.keystone.model_copy(update={"cache": cache})})
    deploy(name, variant, say=lambda _: None)
    wait_healthy(name)
    lab = open_lab(name)
    result: dict[str, Any] = {"healthy": measure(lab, tokens, gets)}
    result["checks"] = {v.name: "pass" if v.ok else "FAIL" for v in run_checks(suite(once=True), lab)}
    holders = vip_holders(lab.inv)
    cache_first = [n for n, _ in memcached.servers(lab.inv)] if cache == "vip" else []
    victim = next(c for c in cache_first + lab.controllers() if c not in holders)
    faults.apply(name, PowerOff(action="power_off", node=victim))
    # Clients keep coming during the first 10 s, as in a cloud (the dead cache server is
    # discovered and skipped on that traffic), then the "after 10 s" figures.
    result["first_10s"] = measure(lab, seconds=AFTER_FAULT_S)
    result["one_off"] = measure(lab, tokens, gets)
    result["victim"] = victim
    faults.heal(name)
    result["recovered_s"] = round(wait_healthy(name), 1)
    # Coherent again once the dead server is back (with vip: haproxy moved everyone back to it)
    result["checks_after_heal"] = {v.name: "pass" if v.ok else "FAIL" for v in run_checks(suite(once=True), lab)}
    return result


def failed(m: dict[str, Any]) -> str:
    t, g = m["token"]["failed"], m["get"]["failed"]
    return "all" if "all" in (t, g) else str(t + g)


def show(results: dict[str, dict[str, Any]]) -> None:
    def f(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.0f}"

    print(f"  {'cache':<6} {'phase':<18} {'token p50/p95 ms':>17} {'GET p50/p95 ms':>15} {'failed':>7}  checks")
    for cache, r in results.items():
        for phase in ("healthy", "first_10s", "one_off"):
            m = r[phase]
            label = {"healthy": "healthy", "first_10s": f"{r['victim']} off, 0-{AFTER_FAULT_S:g} s",
                     "one_off": f"{r['victim']} off, {AFTER_FAULT_S:g} s+"}[phase]
            checks = {"healthy": r["checks"], "one_off": r["checks_after_heal"]}.get(phase, {})
            checks_text = " ".join(f"{k}={v}" for k, v in checks.items())
            checks_text = f"after heal: {checks_text}" if phase == "one_off" else checks_text
            print(f"  {cache:<6} {label:<18} {f(m['token']['p50']):>8}/{f(m['token']['p95']):<8} "
                  f"{f(m['get']['p50']):>7}/{f(m['get']['p95']):<7} {failed(m):>7}  "
                  f"{checks_text}{m['token'].get('error', '')}")
    base = results.get("vip")
    shared_vs_local(results)
    for cache, r in results.items():
        for kind in ("token", "get"):
            a, b = r["one_off"][kind]["p95"], r["healthy"][kind]["p95"]
            if a and b:
                print(f"  ratio {cache} {kind} p95, one controller off : healthy = {a / b:.2f}x")
            if base and cache != "vip" and r["healthy"][kind]["p50"] and base["healthy"][kind]["p50"]:
                print(f"  ratio {cache} : vip {kind} p50 healthy = "
                      f"{r['healthy'][kind]['p50'] / base['healthy'][kind]['p50']:.2f}x")


def shared_vs_local(results: dict[str, dict[str, Any]]) -> None:
    """The issue's measure: after the power-off, each shared setting's token p95 and failures
    next to the per-controller cache's (local: never waits on another controller)."""
    local = results.get("local")
    if not local or not local["one_off"]["token"]["p95"]:
        return
    for cache, r in results.items():
        p95, base = r["one_off"]["token"]["p95"], local["one_off"]["token"]["p95"]
        if cache != "local" and p95:
            print(f"  ratio {cache} : local token p95, one controller off = {p95 / base:.2f}x"
                  f"  (failed {failed(r['one_off'])} vs {failed(local['one_off'])})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", help="an already deployed lab of the control topology (left up, re-deployed "
                                      "with the shipped setting at the end)")
    parser.add_argument("--tokens", type=int, default=30)
    parser.add_argument("--gets", type=int, default=60)
    parser.add_argument("--settings", default=",".join(SETTINGS))
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench needs root (it brings a lab up)")
    result = validate_file(ROOT / "scenarios/labs/control.yaml")
    assert result.topology is not None and result.cloud is not None, result.messages
    name = args.lab or f"benchk{os.getpid() % 1000}"
    if not args.lab:
        engine.up(name, result.topology, packages=image_packages(), source="bench", progress=lambda _: None)
    try:
        results = {c: one_setting(name, result.cloud, c, args.tokens, args.gets) for c in args.settings.split(",")}
        print("Keystone cache settings (control lab, through the VIP from the client node):")
        show(results)
        if args.lab:
            deploy(name, result.cloud, say=lambda _: None)
            print(f"  {len(healthy(open_lab(name)))} checks after restoring the shipped setting on {name}")
    finally:
        if not args.lab:
            engine.down(name, progress=lambda _: None)


if __name__ == "__main__":
    main()
