"""stacklab's front door: `nox -s NAME`.

Main job:   deploy-lab (image if needed, `up` the ha lab, deploy, health checks; leaves it running)
            validate (health checks on the running lab), destroy-lab
Tests:      tests (unit; lab and e2e tiers as root), nightly (long e2e), lint, validate-scenarios
Figures:    bench (root), load (a baseline table from inside a running lab)
"""

from __future__ import annotations

import time
from pathlib import Path

import nox
from nox.command import CommandFailed

nox.options.sessions = ["tests", "lint", "validate-scenarios"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
PACKAGES = ["lab", "deployer", "checks", "stacklab"]
DEFAULT_LAB = "ha"


def install(session: nox.Session, *extras: str) -> None:
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tier (no root, seconds), then lab and e2e tiers (root; they skip themselves
    otherwise with the reason). Extra pytest arguments after `--`."""
    install(session, "libvirt")  # the libvirt backend's unit tests run on its test:///default driver
    session.run("pytest", "tests/unit", "tests/lab", "tests/e2e", "-m", "not nightly", *session.posargs)


@nox.session
def nightly(session: nox.Session) -> None:
    """The nightly run (root), `-- [--out DIR] [pytest args]`: the lab and e2e tests marked
    `@pytest.mark.nightly` (too long for CI, e.g. the full kill-anywhere sweep), then the whole
    scenario catalog grouped onto one lab per topology (stacklab/catalog.py). Into DIR (default
    runs/nightly-TIME): junit-tests.xml, junit.xml (the catalog), index.html linking every run's
    report, summary.txt; one exit code: failed when either failed."""
    install(session, "libvirt")  # the VM boot test (tests/lab/test_libvirt_boot.py; `.ci/setup --libvirt`)
    args = list(session.posargs)
    out = f"runs/nightly-{time.strftime('%Y%m%d-%H%M%S')}"
    if "--out" in args:
        at = args.index("--out")
        out = args[at + 1]
        del args[at:at + 2]
    failed = []
    try:
        session.run("pytest", "tests/lab", "tests/e2e", "-m", "nightly", f"--junitxml={out}/junit-tests.xml", *args)
    except CommandFailed:
        failed.append("the nightly test tier")
    try:
        session.run("python", "-m", "stacklab.catalog", "--out", out)
    except CommandFailed:
        failed.append("the scenario catalog (a failed expectation; see index.html)")
    if failed:
        session.error(f"{' and '.join(failed)} failed; results in {out}")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy on the packages; the GitHub workflows against GitHub's workflow schema
    (check-jsonschema's bundled copy: nothing is fetched; actionlint has no wheel here)."""
    install(session, "dev")
    session.run("ruff", "check", *PACKAGES, "tests", "noxfile.py")
    session.run("mypy")
    workflows = sorted(str(p.relative_to(ROOT)) for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows)


@nox.session(name="validate-scenarios")
def validate_scenarios(session: nox.Session) -> None:
    """`stacklab validate` on every YAML file under scenarios/."""
    install(session)
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scenarios").rglob("*.yaml"))
    session.run("stacklab", "validate", *files)


@nox.session(name="deploy-lab")
def deploy_lab(session: nox.Session) -> None:
    """The main job: `nox -s deploy-lab [-- LAB]` builds the node image if needed, brings
    the lab up (default `ha`), deploys the cloud, runs the health checks and leaves the
    lab running."""
    install(session)
    lab = session.posargs[0] if session.posargs else DEFAULT_LAB
    session.run("stacklab", "up", lab, "--reuse")
    session.run("stacklab", "deploy", "--lab", lab)
    session.run("stacklab", "check", "--lab", lab)
    session.log(f"lab '{lab}' is deployed and healthy. Next:")
    session.log(f"  stacklab status {lab}                  nodes, addresses, faults")
    session.log(f"  stacklab shell --lab {lab} ctl1        a shell on a controller")
    session.log(f"  stacklab exec --lab {lab} NODE -- openstack --os-cloud stacklab token issue   (from any node)")
    session.log("  nox -s validate                       the health checks again")
    session.log("  nox -s destroy-lab                    remove it")


@nox.session
def validate(session: nox.Session) -> None:
    """Health checks on the running lab (`-- LAB` to choose)."""
    install(session)
    session.run("stacklab", "check", *(["--lab", session.posargs[0]] if session.posargs else []))


@nox.session(name="destroy-lab")
def destroy_lab(session: nox.Session) -> None:
    """Remove the lab (`-- LAB`; default: ha) and everything it made."""
    install(session)
    session.run("stacklab", "down", session.posargs[0] if session.posargs else DEFAULT_LAB)


@nox.session
def scenario(session: nox.Session) -> None:
    """Reproduce a failure mode: `nox -s scenario -- NAME [--keep] [--reuse]`."""
    if not session.posargs:
        session.error("name a scenario: nox -s scenario -- controller-failover [--keep] [--reuse]")
    install(session)
    session.run("stacklab", "run", *session.posargs)


@nox.session
def tempest(session: nox.Session) -> None:
    """Upstream conformance: `nox -s tempest -- [LAB] [REGEX]` runs Debian's tempest from the lab's
    client node against its endpoints (default: the identity tests); results under runs/."""
    install(session)
    args = list(session.posargs)
    lab = ["--lab", args.pop(0)] if args and not args[0].startswith("tempest") else []
    session.run("stacklab", "tempest", *lab, *args)


@nox.session
def bench(session: nox.Session) -> None:
    """Figures (root): lab engine (image, up/down, RAM per node, leak-free cycles), deploy
    (per component, RAM, no-op re-deploy), Ceph (time to HEALTH_OK, RAM per daemon, rados
    bench healthy/degraded/rate-limited; the Ceph probe's throughput per phase and time to
    degraded/recovered on the weak `on-the-cheap` lab vs `storage`) and HA (VIP failover
    VRRPv2/advert 1 vs VRRPv3/advert 0.1, API downtime and MTTR for power-off vs Keystone stop vs freeze; ~25 min), load
    (locust token issue through the VIP vs one controller, during a VIP-holder power-off,
    locust's own ceiling on one node), VM vs container nodes (boot time, RAM per node)."""
    install(session, "libvirt")
    session.run("python", "-m", "tests.bench.bench_lab", *session.posargs)
    session.run("python", "-m", "tests.bench.bench_libvirt")  # VM vs container nodes (3 and 5 nodes)
    session.run("python", "-m", "tests.bench.bench_deploy")
    session.run("python", "-m", "tests.bench.bench_ceph")
    session.run("python", "-m", "tests.bench.bench_ceph_phases")  # one OSD host down: weak lab vs storage lab
    session.run("python", "-m", "tests.bench.bench_ha")
    session.run("python", "-m", "tests.bench.bench_robust")  # validate bounds, 100 ha up/down cycles
    session.run("python", "-m", "tests.bench.bench_keystone_cache")
    session.run("python", "-m", "tests.bench.bench_net")  # loss matrix accuracy, path-MTU sweep per pair
    session.run("python", "-m", "tests.bench.bench_load")
    session.run("python", "-m", "tests.bench.bench_neutron")  # deploy per Neutron component, API, VXLAN vs underlay


@nox.session
def load(session: nox.Session) -> None:
    """A baseline table from inside a running lab (root): `nox -s load -- [LAB] [--users N]
    [--run-time T] [--target keystone|galera]`: locust on the lab's client node, RPS,
    p50/p95/p99 and failures per request type (default lab: ha)."""
    install(session)
    args = list(session.posargs)
    lab = args.pop(0) if args and not args[0].startswith("-") else DEFAULT_LAB
    session.run("python", "-m", "checks.load", lab, *args)
