"""The upstream API conformance suite (Debian's ``tempest``) run from a lab node.

``stacklab tempest --lab LAB [REGEX]`` (and ``nox -s tempest -- LAB REGEX``) writes a
``tempest.conf`` generated from the deployed lab (the VIP's name, the lab CA, the admin
of clouds.yaml, which services exist), runs ``tempest run`` in a workspace on the client
node (never from the host: the host has no route into the lab), and copies the results
back: ``tempest.subunit``, ``tempest.csv``, ``junit.xml`` and ``summary.json`` in
``runs/<time>-tempest-<lab>/``.

The skip list holds ONLY failures shown to be upstream version skew, each with its
evidence; a stale read after an update is never skew (docs/keystone-cache.md).

Example::

    result = run(open_lab("control"), "tempest.api.identity", Path("runs/x"))
    result["counts"]      # {"success": 126, "skip": 22, "fail": 0}
"""

from __future__ import annotations

import configparser
import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

from checks.infra.base import Lab
from lab import engine

WORKSPACE = "/var/lib/stacklab-tempest"
CONF = f"{WORKSPACE}/etc/tempest.conf"
EXCLUDE = f"{WORKSPACE}/etc/exclude-list"
DEFAULT_REGEX = "tempest.api.identity"
TIMEOUT_S = 3600.0  # the identity tests take minutes on 2 cores; a hung run ends here

#: test-id regex -> evidence that the failure is upstream version skew (tempest 33 vs Keystone 22).
SKEW: dict[str, str] = {
    r"tempest\.api\.identity\.admin\.v3\.test_credentials\.CredentialsTestJSON\."
    r"test_credentials_create_get_update_delete":
        "Debian's keystone 2:22.0.2-0+deb12u5 applies the upstream fix for CVE-2026-90460 (LP#2159643, "
        "'credentials: reject delegated tokens, restrict PATCH to blob only'): PATCH /v3/credentials/ID "
        "accepts only `blob`. tempest 33 still sends project_id and type and gets 400 'Additional properties "
        "are not allowed'. Clients made the same change (gophercloud#4013, for Keystone 2026.2).",
}
#: subunit2csv statuses that are failures (a success that should have failed is one too).
FAILED = ("fail", "failure", "uxsuccess")

#: Services tempest can test, by the deployed component that provides them.
SERVICES = {"nova": "nova", "neutron": "neutron-server", "glance": "glance", "cinder": "cinder", "swift": "swift"}


def tempest_conf(lab: Lab, admin_password: str, cacert: str) -> str:
    """tempest.conf for this lab: identity over TLS through the VIP, only the services deployed."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_dict({
        "DEFAULT": {"log_dir": f"{WORKSPACE}/logs", "log_file": "tempest.log"},
        "auth": {"use_dynamic_credentials": "true", "create_isolated_networks": "false",
                 "admin_username": "admin", "admin_password": admin_password, "admin_project_name": "admin",
                 "admin_domain_name": "Default", "default_credentials_domain_name": "Default"},
        "identity": {"uri_v3": f"https://{lab.inv.vip_name}:5000/v3", "auth_version": "v3",
                     "region": "RegionOne", "v3_endpoint_type": "public", "ca_certificates_file": cacert,
                     "disable_ssl_certificate_validation": "false", "admin_role": "admin"},
        "identity-feature-enabled": {"api_v2": "false", "api_v3": "true", "trust": "true",
                                     "application_credentials": "true", "access_rules": "true",
                                     "project_tags": "true", "security_compliance": "false"},
        "service_available": {svc: str(comp in lab.deployed).lower() for svc, comp in SERVICES.items()},
        "validation": {"run_validation": "false"},
    })
    out = io.StringIO()
    out.write("# Managed by stacklab: generated from the deployed lab " + lab.name + "\n")
    conf.write(out)
    return out.getvalue()


def counts(rows: list[dict[str, str]]) -> dict[str, int]:
    """Outcomes of ``subunit2csv`` rows (success, skip, fail, ...) -> how many of each."""
    out: dict[str, int] = {}
    for row in rows:
        out[row["status"]] = out.get(row["status"], 0) + 1
    return out


def seconds(row: dict[str, str]) -> float:
    """A subunit2csv row's duration (its start_time/stop_time are ISO timestamps)."""
    try:
        return (datetime.fromisoformat(row["stop_time"]) - datetime.fromisoformat(row["start_time"])).total_seconds()
    except (KeyError, ValueError):
        return 0.0


def failed(c: dict[str, int]) -> int:
    return sum(c.get(status, 0) for status in FAILED)


def junit(rows: list[dict[str, str]], name: str) -> str:
    """A JUnit XML document of the run (the node has no ``junitxml`` for subunit2junitxml)."""
    c = counts(rows)
    suite = ET.Element("testsuite", name=name, tests=str(len(rows)), failures=str(failed(c)),
                       skipped=str(c.get("skip", 0)), errors="0")
    for row in rows:
        test_id = re.sub(r"\[.*\]$", "", row["test"])
        cls, _, method = test_id.rpartition(".")
        case = ET.SubElement(suite, "testcase", classname=cls, name=method, time=f"{seconds(row):.3f}")
        if row["status"] in FAILED:
            ET.SubElement(case, "failure", message="failed (see tempest.subunit / the node's tempest.log)")
        elif row["status"] == "skip":
            ET.SubElement(case, "skipped")
    return ET.tostring(suite, encoding="unicode")


def node_sh(lab: Lab, node: str, script: str, *, timeout: float = 120, input: str | None = None) -> str:
    done = engine.run(lab.name, node, ["/bin/sh", "-ec", script], input=input, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{node}: {script.splitlines()[0][:80]}: {(done.stderr or done.stdout).strip()[-500:]}")
    return str(done.stdout)


def run(lab: Lab, regex: str, out: Path, *, concurrency: int = 2, admin_password: str, cacert: str) -> dict[str, Any]:
    """Run tempest on the lab's client node; write the results under ``out``; return the summary."""
    node = lab.prober()
    node_sh(lab, node, f"[ -d {WORKSPACE}/etc ] || tempest init {WORKSPACE} >/dev/null; mkdir -p {WORKSPACE}/logs")
    node_sh(lab, node, f"umask 077; cat > {CONF}", input=tempest_conf(lab, admin_password, cacert))
    node_sh(lab, node, f"cat > {EXCLUDE}", input="".join(f"{r}\n" for r in SKEW))
    # `tempest run` exits 1 when a test fails: that is a result, not an error of the run.
    done = engine.run(lab.name, node, ["/bin/sh", "-c", f"cd {WORKSPACE} && tempest run --regex '{regex}' "
                                       f"--exclude-list {EXCLUDE} --concurrency {concurrency} >/dev/null 2>&1; "
                                       "stestr last --subunit"], timeout=TIMEOUT_S)
    subunit = done.stdout_bytes
    table = engine.run(lab.name, node, ["subunit2csv"], input=subunit, timeout=120).stdout
    rows = list(csv.DictReader(io.StringIO(str(table))))
    out.mkdir(parents=True, exist_ok=True)
    (out / "tempest.subunit").write_bytes(subunit)
    (out / "junit.xml").write_text(junit(rows, f"tempest {regex} on {lab.name}"))
    summary = {"lab": lab.name, "node": node, "regex": regex, "counts": counts(rows), "skew_skipped": SKEW,
               "failed": sorted(r["test"] for r in rows if r["status"] in FAILED)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary

