"""In-node Keystone coherence test: do all controllers answer as one?

Run on a lab node as ``python3 - MODE ARGS_JSON`` (this file on stdin); prints one JSON
object. It uses the admin of ``/etc/openstack/clouds.yaml`` and talks to each controller's
Keystone directly (``controllers``: name -> base URL), bypassing haproxy, so a controller
that answers differently cannot hide behind round-robin. Everything it creates carries a
random ``sl-check-`` name and is deleted before it exits, whatever happened.

Modes:

- ``coherent``: create a project, read it once from every controller (so each cache holds
  it), then update its description through each controller in turn; after every update
  read it ``reads`` times from every controller. Reports every value read and how long
  until all agreed (``bound_s`` at most).
- ``disable``: create a project and a user with a role on it, get a project-scoped token
  from every controller, then disable the project (through the first controller) and,
  re-enabled, the user (through the second); after each, ask every controller for tokens
  until all refuse or ``bound_s`` passes. Reports tokens issued after each disable.
- ``latency``: ``tokens`` token requests, then ``gets`` project GETs, one after the other
  through the VIP (what a client sees), or with ``seconds``, token/GET pairs until that
  time has passed; reports each request's seconds and status. The
  cache benchmark compares cache settings with it (``tests/bench/bench_keystone_cache.py``).
"""

from __future__ import annotations

import json
import ssl
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import yaml

TIMEOUT = 10.0
ADMIN_ATTEMPTS = 3
CLOUDS = "/etc/openstack/clouds.yaml"


class Keystone:
    """A minimal Identity v3 client for one base URL (TLS verified against the lab CA)."""

    def __init__(self, base: str, tls: ssl.SSLContext, token: str = "") -> None:
        self.base, self.tls, self.token = base.rstrip("/"), tls, token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any, str]:
        """(status, decoded body or None, X-Subject-Token); HTTP errors are statuses, not exceptions."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", "X-Auth-Token": self.token})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT, context=self.tls) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None, resp.headers.get("X-Subject-Token", "")
        except urllib.error.HTTPError as e:
            return e.code, None, ""

    def token_for(self, user: str, password: str, project_id: str) -> int:
        """Status of a password token request scoped to ``project_id`` (201 = issued)."""
        ident = {"methods": ["password"],
                 "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}}}
        return self.call("POST", "/auth/tokens", {"auth": {"identity": ident,
                                                           "scope": {"project": {"id": project_id}}}})[0]


def admin(cfg: dict[str, Any], tls: ssl.SSLContext) -> tuple[str, list[Any]]:
    """The admin's token through the VIP, and the failures before it. A 5xx or a reset is
    tried again (3 attempts, 1 s apart): a request caught on a controller that just died
    is answered 502 by haproxy, and one bad answer must not void a whole measurement."""
    auth = cfg["auth"]
    ident = {"methods": ["password"], "password": {"user": {
        "name": auth["username"], "domain": {"name": auth["user_domain_name"]}, "password": auth["password"]}}}
    scope = {"project": {"name": auth["project_name"], "domain": {"name": auth["project_domain_name"]}}}
    failures: list[Any] = []
    status: int | str
    for _ in range(ADMIN_ATTEMPTS):
        try:
            status, _, token = Keystone(auth["auth_url"], tls).call("POST", "/auth/tokens",
                                                                    {"auth": {"identity": ident, "scope": scope}})
        except OSError as e:
            status, token = type(e).__name__, ""
        if status == 201:
            return token, failures
        failures.append(status)
        if isinstance(status, int) and status < 500:
            break
        time.sleep(1)
    raise SystemExit(json.dumps({"error": f"admin token through the VIP: {failures}"}))


def until_all(bound: float, probe: Any, names: list[str]) -> tuple[float | None, list[dict[str, Any]]]:
    """Poll ``probe(name)`` (True = as wanted) over every controller until all are, or ``bound``
    seconds pass; (seconds until all were, or None; every round's answers)."""
    start, rounds = time.monotonic(), []  # type: float, list[dict[str, Any]]
    while True:
        at = time.monotonic()  # a round's time is when it started: 0.0 = right after the write
        answers = {n: probe(n) for n in names}
        rounds.append({"t": round(at - start, 3), "answers": answers})
        if all(a["ok"] for a in answers.values()):
            return round(at - start, 3), rounds
        if time.monotonic() - start > bound:
            return None, rounds
        time.sleep(0.1)


def coherent(vip: Keystone, ctls: dict[str, Keystone], args: dict[str, Any]) -> dict[str, Any]:
    _, body, _ = vip.call("POST", "/projects", {"project": {"name": f"sl-check-{uuid.uuid4().hex[:10]}",
                                                            "domain_id": "default", "description": "v0"}})
    pid = body["project"]["id"]
    out: dict[str, Any] = {"updates": []}
    try:
        for c in ctls.values():  # every cache now holds v0
            c.call("GET", f"/projects/{pid}")
        for i, (writer, api) in enumerate(ctls.items(), start=1):
            want = f"v{i}"
            status = api.call("PATCH", f"/projects/{pid}", {"project": {"description": want}})[0]

            def read(name: str, want: str = want) -> dict[str, Any]:
                got = [(ctls[name].call("GET", f"/projects/{pid}")[1] or {}).get("project", {}).get("description")
                       for _ in range(args["reads"])]
                return {"ok": all(g == want for g in got), "read": got}

            converged, rounds = until_all(args["bound_s"], read, list(ctls))
            out["updates"].append({"writer": writer, "status": status, "want": want, "converged_s": converged,
                                   "first": rounds[0]["answers"], "last": rounds[-1]["answers"]})
    finally:
        vip.call("DELETE", f"/projects/{pid}")
    return out


def disable(vip: Keystone, ctls: dict[str, Keystone], args: dict[str, Any]) -> dict[str, Any]:
    name, password = f"sl-check-{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    pid = vip.call("POST", "/projects", {"project": {"name": name, "domain_id": "default"}})[1]["project"]["id"]
    uid = None
    out: dict[str, Any] = {"disables": []}
    try:
        uid = vip.call("POST", "/users", {"user": {"name": name, "domain_id": "default", "password": password,
                                                   "default_project_id": pid}})[1]["user"]["id"]
        role = vip.call("GET", "/roles?name=member")[1]["roles"][0]["id"]
        vip.call("PUT", f"/projects/{pid}/users/{uid}/roles/{role}")
        out["before"] = {n: c.token_for(name, password, pid) for n, c in ctls.items()}  # every cache warm
        names = list(ctls)
        for what, path, writer in (("project", f"/projects/{pid}", names[0]), ("user", f"/users/{uid}", names[-1])):
            status = ctls[writer].call("PATCH", path, {what: {"enabled": False}})[0]

            def refused(n: str) -> dict[str, Any]:
                code = ctls[n].token_for(name, password, pid)
                return {"ok": code != 201, "status": code}

            refused_s, rounds = until_all(args["bound_s"], refused, names)
            issued = sum(1 for r in rounds for a in r["answers"].values() if a["status"] == 201)
            out["disables"].append({"what": what, "writer": writer, "status": status, "refused_s": refused_s,
                                    "tokens_after_disable": issued, "last": rounds[-1]["answers"]})
            ctls[writer].call("PATCH", path, {what: {"enabled": True}})  # the next test starts enabled
    finally:
        if uid:
            vip.call("DELETE", f"/users/{uid}")
        vip.call("DELETE", f"/projects/{pid}")
    return out


def latency(vip: Keystone, ctls: dict[str, Keystone], args: dict[str, Any]) -> dict[str, Any]:
    auth = args["auth"]  # clouds.yaml's admin, read once by main()
    project = vip.call("GET", f"/projects?name={auth['project_name']}")[1]["projects"][0]["id"]

    def timed(request: Any) -> dict[str, Any]:
        t = time.monotonic()
        try:
            status = request()
        except OSError as e:  # a timeout or a reset is a failed request, with its time
            status = f"{type(e).__name__}"
        return {"s": round(time.monotonic() - t, 4), "status": status}

    def token() -> dict[str, Any]:
        return timed(lambda: vip.token_for(auth["username"], auth["password"], project))

    def get() -> dict[str, Any]:
        return timed(lambda: vip.call("GET", f"/projects/{project}")[0])

    if args.get("seconds"):  # traffic that keeps flowing for a while (a fault's transition), pairs
        deadline, tokens, gets = time.monotonic() + args["seconds"], [], []
        while time.monotonic() < deadline:
            tokens.append(token())
            gets.append(get())
        return {"token": tokens, "get": gets}
    return {"token": [token() for _ in range(args["tokens"])], "get": [get() for _ in range(args["gets"])]}


def main() -> None:
    mode, args = sys.argv[1], json.loads(sys.argv[2])
    with open(CLOUDS, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)["clouds"]["stacklab"]
    tls = ssl.create_default_context(cafile=cfg["cacert"])
    token, failures = admin(cfg, tls)
    vip = Keystone(cfg["auth"]["auth_url"], tls, token)
    ctls = {n: Keystone(url, tls, token) for n, url in args["controllers"].items()}
    args["auth"] = cfg["auth"]
    out = {"coherent": coherent, "disable": disable, "latency": latency}[mode](vip, ctls, args)
    print(json.dumps({**out, "admin_token_failures": failures}))


if __name__ == "__main__":
    main()
