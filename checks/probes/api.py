"""In-node Keystone probe: POST /v3/auth/tokens through the VIP over TLS, open loop.

A request starts every ``interval`` s whether or not the earlier ones have answered
(at most ``concurrency`` in flight), as independent clients would send them: a request
hung until its timeout does not hide the ones after it. ``concurrency`` 1 is a closed
loop, one request after the other.

Every request opens a fresh TLS connection (as a new CLI invocation would), so a VIP
move or a dead backend shows at once instead of on a stale keep-alive connection.
A sample is ``{"k": "api", "t": start, "ok": status == 201, "lat": seconds,
"status": int|None, "err": str|None}``. Timeouts: ``connect_timeout`` (0.8 s, below
TCP's 1 s SYN retransmission) for TCP + TLS, then ``timeout`` for each socket
operation of the request (send, each read).
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from probe_common import Run, error_text  # shipped beside this script


def token_body(cfg: dict[str, Any]) -> bytes:
    """The password-auth request of clouds.yaml's admin, scoped to its project."""
    user = {"name": cfg["username"], "domain": {"name": cfg["user_domain_name"]}, "password": cfg["password"]}
    scope = {"project": {"name": cfg["project_name"], "domain": {"name": cfg["project_domain_name"]}}}
    return json.dumps({"auth": {"identity": {"methods": ["password"], "password": {"user": user}},
                                "scope": scope}}).encode()


def call(cfg: dict[str, Any], tls: ssl.SSLContext, method: str, body: bytes | None,
         headers: dict[str, str]) -> tuple[int | None, str | None, str]:
    """One request on a fresh connection: (status, error, X-Subject-Token)."""
    url = urlsplit(cfg["auth_url"])
    # Connect (TCP + TLS) under the short timeout: a dead frontend shows as an error
    # within it, not as one request hanging for the whole read timeout.
    conn = http.client.HTTPSConnection(url.hostname or "", url.port or 443, context=tls,
                                       timeout=float(cfg["connect_timeout"]))
    try:
        conn.connect()
        assert conn.sock is not None
        conn.sock.settimeout(float(cfg["timeout"]))
        conn.request(method, url.path.rstrip("/") + "/auth/tokens", body, {"Accept": "application/json", **headers})
        resp = conn.getresponse()
        resp.read()
        return resp.status, None, resp.getheader("X-Subject-Token") or ""
    except (OSError, http.client.HTTPException) as exc:  # ssl.SSLError and timeouts are OSErrors
        return None, error_text(exc), ""
    finally:
        conn.close()


def one_request(cfg: dict[str, Any], tls: ssl.SSLContext, body: bytes) -> dict[str, Any]:
    """Issue a token; with ``use_token``, then present it on another connection (through the
    VIP: haproxy's round robin may pick another controller), as its holder's next call would."""
    t = time.monotonic()
    status, err, token = call(cfg, tls, "POST", body, {"Content-Type": "application/json"})
    issued = status == 201
    if status is not None and not issued:
        err = f"HTTP {status}"
    if issued and cfg.get("use_token"):
        status, err, _ = call(cfg, tls, "GET", None, {"X-Auth-Token": token, "X-Subject-Token": token})
        if status is not None and status != 200:
            err = f"token refused: HTTP {status}"
    ok = issued and (not cfg.get("use_token") or status == 200)
    return {"k": "api", "t": t, "ok": ok, "lat": round(time.monotonic() - t, 6), "status": status, "err": err,
            "issued": issued}


def main() -> None:
    run = Run()
    cfg = run.cfg
    tls = ssl.create_default_context(cafile=cfg["cacert"])
    body = token_body(cfg)
    slots = threading.BoundedSemaphore(int(cfg.get("concurrency", 1)))
    workers: list[threading.Thread] = []

    def request() -> None:
        try:
            run.emit(one_request(cfg, tls, body))
        finally:
            slots.release()

    try:
        while run.go():
            started = time.monotonic()
            if not slots.acquire(timeout=0.5):  # all in flight: look at the stop file again
                continue
            worker = threading.Thread(target=request, daemon=True)
            worker.start()
            workers = [w for w in workers if w.is_alive()] + [worker]
            run.pause(float(cfg["interval"]) - (time.monotonic() - started))
    finally:
        for worker in workers:  # bounded: every request ends within its own timeouts
            worker.join(float(cfg["connect_timeout"]) + 2 * float(cfg["timeout"]))
        run.end()


if __name__ == "__main__":
    main()
