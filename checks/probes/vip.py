"""In-node VIP prober: every ``interval`` s a TCP connect to VIP:port and an ICMP echo.

Probes do not wait for each other: each TCP attempt is its own non-blocking socket and
each echo its own sequence number, so a dead VIP (connects hanging until their
timeout) does not slow the sampling. The timeout (0.5 s) stays below TCP's first SYN
retransmission (1 s): a connect is one SYN, so one answered late by a retransmission
is a miss, not a success that splits the outage. A sample is ``{"k": "tcp"|"icmp",
"t": send time, "ok": bool, "lat": seconds, "err": str|None}``; attempts still open at
the end are dropped.

Which node the client's traffic reaches is in the probe node's ARP table: keepalived
announces the VIP with gratuitous ARP when it moves, and every connect re-resolves a
stale entry. Each fire reads ``/proc/net/arp`` (a small file, ≈ 20 µs) and a change of
the VIP's hardware address is a sample ``{"k": "arp", "t", "ok": resolved, "lat": 0,
"mac"}``; the host names the MACs (``checks.ha_vip``).

With ``tls`` the TCP sample also includes a TLS handshake (unverified: only timed):
a frozen node's kernel still completes TCP handshakes from its listen backlog, only a
handshake proves haproxy itself answers. Sockets are closed with FIN, never RST: with
RST, a busy haproxy logged "SSL handshake failure" for every probe (≈ 50 lines/s,
enough to rotate a node's 32 MB journal and lose the lines a run report gathers);
with FIN it logs nothing (``option dontlognull``). The price is TIME_WAIT sockets in
the probe node (≤ 50/s × 60 s = 3000).

A starved prober is not a dead VIP. On a busy host the prober itself may not run for a
while; an answer that arrived meanwhile is only seen late, and a late answer cannot be
told from a slow one. So the loop notes when it looked (``stall`` events mark gaps
longer than ``STALL_S``), and an attempt whose deadline fell inside such a gap is judged
only on evidence that does not depend on when we looked: a connect the kernel still has
in SYN-SENT, or an error, is a miss; anything else is left unjudged (no sample; counted
in the end event). A CI run without any fault once read a 0.5 s "failover" from one
such miss.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import ssl
import struct
import time
from typing import Any

from probe_common import Run, error_text  # shipped beside this script

ECHO_REQUEST, ECHO_REPLY = 8, 0
STALL_S = 0.1  # the loop wakes every interval (20 ms); a longer gap means we were not running
TCP_SYN_SENT = 2  # linux/tcp_states.h; the first byte of struct tcp_info
ARP_COMPLETE = 0x2  # ATF_COM in /proc/net/arp's flags: the entry is resolved


def arp_entry(text: str, ip: str) -> tuple[str, bool] | None:
    """(hardware address, resolved) of ``ip`` in ``/proc/net/arp``'s text, else None.

    >>> arp_entry("IP address HW type Flags HW address Mask Device\\n"
    ...           "10.0.0.5 0x1 0x2 0a:00:00:00:00:01 * mgmt0\\n", "10.0.0.5")
    ('0a:00:00:00:00:01', True)
    """
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 4 and cols[0] == ip:
            return cols[3], bool(int(cols[2], 16) & ARP_COMPLETE)
    return None


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071).

    >>> checksum(b"\\x08\\x00\\x00\\x00\\x12\\x34\\x00\\x01")
    58826
    """
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int) -> bytes:
    header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq)
    payload = b"stacklab-vip-probe"
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, checksum(header + payload), ident, seq) + payload


def syn_sent(sock: socket.socket) -> bool:
    """Whether the kernel still waits for the SYN-ACK of this connect (TCP_INFO state)."""
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == TCP_SYN_SENT
    except OSError:  # closed or reset: not waiting
        return False


def parse_reply(packet: bytes, ident: int) -> int | None:
    """The sequence number of an echo reply to us in a raw IPv4 packet, else None."""
    ihl = (packet[0] & 0x0F) * 4
    if len(packet) < ihl + 8:
        return None
    kind, _, _, rid, seq = struct.unpack("!BBHHH", packet[ihl:ihl + 8])
    return seq if kind == ECHO_REPLY and rid == ident else None


class Prober:
    def __init__(self, run: Run) -> None:
        self.run, self.cfg = run, run.cfg
        self.sel = selectors.DefaultSelector()
        self.ident = os.getpid() & 0xFFFF
        self.seq = 0
        self.tcp: dict[socket.socket, float] = {}
        self.echo: dict[int, float] = {}
        self.tls: ssl.SSLContext | None = None
        self.looked = time.monotonic()  # when the loop last took events
        self.stalls: list[tuple[float, float]] = []  # recent gaps between looks (from, to)
        self.unjudged = 0
        self.mac: tuple[str, bool] | None = None  # the VIP's ARP entry as last seen
        if self.cfg.get("tls"):
            # Only the handshake is timed (proof haproxy itself answers): no verification.
            self.tls = ssl.create_default_context()
            self.tls.check_hostname = False
            self.tls.verify_mode = ssl.CERT_NONE
        self.icmp: socket.socket | None = None
        if self.cfg.get("icmp", True):
            self.icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            self.icmp.setblocking(False)
            self.sel.register(self.icmp, selectors.EVENT_READ, "icmp")

    def sample(self, kind: str, t: float, ok: bool, err: str | None) -> None:
        """One sample; it ended when the loop last took events (``looked``), not now: the
        prober may have been stopped since, and that is not the VIP's time."""
        self.run.emit({"k": kind, "t": t, "ok": ok, "lat": round(max(self.looked, t) - t, 6), "err": err})

    def arp(self, t: float) -> None:
        """A sample when the VIP's ARP entry changed (another node answers for it)."""
        try:
            with open("/proc/net/arp") as f:
                entry = arp_entry(f.read(), self.cfg["vip"])
        except OSError:
            return
        if entry is not None and entry != self.mac:
            self.mac = entry
            self.run.emit({"k": "arp", "t": t, "ok": entry[1], "lat": 0.0, "mac": entry[0]})

    def fire(self) -> None:
        """Start one TCP connect and send one echo; note who answers ARP for the VIP."""
        t = time.monotonic()
        self.arp(t)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex((self.cfg["vip"], int(self.cfg["port"])))
        if code in (0, errno.EINPROGRESS):
            self.tcp[sock] = t
            self.sel.register(sock, selectors.EVENT_WRITE, "tcp")
        else:  # refused or unreachable at once
            sock.close()
            self.sample("tcp", t, False, errno.errorcode.get(code, str(code)))
        if self.icmp is not None:
            self.seq = (self.seq + 1) & 0xFFFF
            try:
                self.icmp.sendto(echo_request(self.ident, self.seq), (self.cfg["vip"], 0))
                self.echo[self.seq] = t
            except OSError as exc:
                self.sample("icmp", t, False, error_text(exc))

    def on_tcp(self, sock: socket.socket) -> None:
        t = self.tcp.pop(sock)
        self.sel.unregister(sock)
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code == 0 and self.tls is not None:
            ssock = self.tls.wrap_socket(sock, do_handshake_on_connect=False)
            self.tcp[ssock] = t
            self.sel.register(ssock, selectors.EVENT_WRITE, "tls")
            return
        sock.close()
        self.done(t, None if code == 0 else errno.errorcode.get(code, str(code)))

    def on_tls(self, ssock: ssl.SSLSocket) -> None:
        """One more step of a TLS handshake; a sample when it is over."""
        try:
            ssock.do_handshake()
            err = None
        except ssl.SSLWantReadError:
            self.sel.modify(ssock, selectors.EVENT_READ, "tls")
            return
        except ssl.SSLWantWriteError:
            self.sel.modify(ssock, selectors.EVENT_WRITE, "tls")
            return
        except OSError as exc:  # ssl.SSLError included
            err = error_text(exc)
        t = self.tcp.pop(ssock)
        self.sel.unregister(ssock)
        ssock.close()
        self.done(t, err)

    def blind(self, t: float) -> bool:
        """Whether the loop was stalled when the attempt sent at ``t`` reached its deadline."""
        deadline = t + float(self.cfg["timeout"])
        return any(start < deadline <= end for start, end in self.stalls)

    def done(self, t: float, err: str | None) -> None:
        if err is None and self.looked - t >= float(self.cfg["timeout"]):
            if self.blind(t):  # answered at some time while we were not looking
                self.unjudged += 1
                return
            err = "timeout"  # we were looking at its deadline: a slow answer is a miss
        self.sample("tcp", t, err is None, err)

    def look(self) -> None:
        """Note the time the loop takes events; a long gap before it is a stall."""
        now = time.monotonic()
        if now - self.looked > STALL_S:
            self.stalls.append((self.looked, now))
            self.run.event("stall", since=self.looked, seconds=round(now - self.looked, 3))
            self.stalls = [(a, b) for a, b in self.stalls if b > now - 10 * float(self.cfg["timeout"])]
        self.looked = now

    def on_icmp(self) -> None:
        assert self.icmp is not None
        while True:
            try:
                packet = self.icmp.recv(2048)
            except BlockingIOError:
                return
            seq = parse_reply(packet, self.ident)
            if seq is not None and seq in self.echo:
                self.sample("icmp", self.echo.pop(seq), True, None)

    def expire(self, timeout: float) -> None:
        """Attempts older than ``timeout`` are misses."""
        now = self.looked  # not time.monotonic(): a stop since the last look is not the VIP's fault
        for sock, t in [(s, t) for s, t in self.tcp.items() if now - t >= timeout]:
            del self.tcp[sock]
            self.sel.unregister(sock)
            unanswered = syn_sent(sock)  # the kernel's word, whenever we look
            sock.close()
            if unanswered or not self.blind(t):
                self.sample("tcp", t, False, "timeout")
            else:
                self.unjudged += 1
        for seq, t in [(q, t) for q, t in self.echo.items() if now - t >= timeout]:
            del self.echo[seq]
            self.sample("icmp", t, False, "timeout")

    def loop(self) -> None:
        interval, timeout = float(self.cfg["interval"]), float(self.cfg["timeout"])
        tick = time.monotonic()
        while self.run.go():
            if time.monotonic() >= tick:
                self.fire()
                tick = max(tick + interval, time.monotonic())  # no burst after a stall
            ready = self.sel.select(timeout=max(0.0, tick - time.monotonic()))
            self.look()
            for key, _ in ready:
                if key.data == "icmp":
                    self.on_icmp()
                elif key.data == "tls":
                    self.on_tls(key.fileobj)  # type: ignore[arg-type]
                else:
                    self.on_tcp(key.fileobj)  # type: ignore[arg-type]
            self.expire(timeout)


def main() -> None:
    run = Run()
    prober = Prober(run)
    meta: dict[str, Any] = {"vip": run.cfg["vip"], "port": run.cfg["port"], "tls": bool(prober.tls),
                            "ident": prober.ident}
    run.event("config", **meta)
    try:
        prober.loop()
    finally:
        run.event("unjudged", attempts=prober.unjudged)
        run.end()


if __name__ == "__main__":
    main()
