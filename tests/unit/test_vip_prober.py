"""The in-node VIP prober, run for real against loopback listeners and really stalled
(SIGSTOP): a prober that did not run is not a VIP that did not answer, and a connect the
kernel never completed stays a miss however late we look.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from checks.ha_run import events, parse_lines, samples
from checks.probes import COMMON, source
from deployer.pki import CA

TIMEOUT = 1.0  # generous: the slow server below runs in this busy test process
STALL = 2.0
ANSWER_S = 0.25  # the slow TLS server's delay before its handshake


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.fixture
def slow_tls(tmp_path: Path) -> Iterator[int]:
    """A loopback TLS server that answers each handshake ANSWER_S after the connect, so
    that attempts are in flight when the prober is stopped; yields its port."""
    key, crt = CA(tmp_path / "ca", "probe").issue("server", ["localhost"], ["127.0.0.1"])
    (tmp_path / "s.key").write_text(key)
    (tmp_path / "s.crt").write_text(crt)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "s.crt", tmp_path / "s.key")
    server = socket.create_server(("127.0.0.1", 0), backlog=4096)
    server.settimeout(0.2)
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        time.sleep(ANSWER_S)
        with suppress(OSError), ctx.wrap_socket(conn, server_side=True):
            pass

    def serve() -> None:
        while not stop.is_set():
            with suppress(TimeoutError):
                conn, _ = server.accept()
                threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def probe_with_stall(tmp_path: Path, port: int, tls: bool) -> list[dict]:
    """Run vip.py on loopback for ~3 s, stopped (SIGSTOP) for STALL s in the middle."""
    (tmp_path / f"{COMMON}.py").write_text(source(COMMON))
    (tmp_path / "vip.py").write_text(source("vip"))
    (tmp_path / "config.json").write_text(json.dumps({
        "vip": "127.0.0.1", "port": port, "interval": 0.02, "timeout": TIMEOUT, "icmp": False, "tls": tls,
        "seconds": 20, "max_samples": 10_000}))
    proc = subprocess.Popen([sys.executable, str(tmp_path / "vip.py")])
    try:
        time.sleep(1.2)
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(STALL)
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.8)
        (tmp_path / "stop").touch()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return parse_lines((tmp_path / "samples.jsonl").read_text())


def stall_of(lines: list[dict]) -> tuple[float, float]:
    (stall,) = [e for e in events(lines, "stall") if e["seconds"] >= STALL - 0.2]
    return stall["since"], stall["since"] + stall["seconds"]


def test_a_stalled_prober_reads_no_outage(tmp_path: Path, slow_tls: int) -> None:
    lines = probe_with_stall(tmp_path, slow_tls, tls=True)
    tcp = samples(lines, "tcp")
    stall_of(lines)
    missed = [(s["t"], s["err"]) for s in tcp if not s["ok"]]
    assert len(tcp) > 40 and missed == [], events(lines, "stall")
    assert events(lines, "unjudged")[0]["attempts"] >= 3  # in flight when it stopped: answered unseen


def test_a_dead_port_stays_a_miss_across_a_stall(tmp_path: Path, listener: socket.socket) -> None:
    listener.listen(0)  # never accepted: once the queue holds one, every SYN is dropped
    port = listener.getsockname()[1]
    held = socket.create_connection(("127.0.0.1", port))  # fills the accept queue
    try:
        lines = probe_with_stall(tmp_path, port, tls=False)
    finally:
        held.close()
    tcp = samples(lines, "tcp")
    start, _ = stall_of(lines)
    before_stall = [s for s in tcp if start - TIMEOUT < s["t"] < start]  # their deadline fell in the stall
    assert before_stall and all(not s["ok"] and s["err"] == "timeout" for s in before_stall)
    assert events(lines, "unjudged")[0]["attempts"] == 0
    assert sum(1 for s in tcp if not s["ok"]) >= len(tcp) - 2
