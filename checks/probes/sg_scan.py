"""In-node reachability scanner: what a destination answers to a TCP SYN or an ICMP echo
sent from here (runs INSIDE a lab node or an instance namespace, never on the host).

Run as ``python3 - scan ARGS_JSON`` (this file on stdin); prints one JSON object.
Args: ``probes`` = ``[[dst, "tcp"|"icmp", port], ...]`` (port 0 for ICMP), ``rate``
(packets per second, default 2000), ``wait`` (seconds to wait for answers after each
pass, default 0.5), ``tries`` (passes for probes still unanswered, default 2).

Each probe ends in one outcome, the way a port scanner classifies them:

- ``open``: SYN-ACK, something listens and the packet was let through;
- ``closed``: RST, the packet was let through and nothing listens;
- ``answered``: an ICMP echo reply;
- ``rejected``: an ICMP destination-unreachable quoting the probe (``code`` given:
  13 administratively prohibited, 3 port unreachable, ...);
- ``silent``: nothing, after every try: dropped (Neutron's iptables driver drops).

scapy builds every SYN and echo, and dissects every answer; two raw kernel sockets carry
them (one TCP, one ICMP), which buffer each answer until it is read. Each TCP probe has
its own source port, so an answer names its probe. The SYN-ACK of an open port is
answered by this kernel with an RST (no socket owns the port), as in a SYN scan.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from typing import Any

SO_RCVBUF_BYTES = 8 << 20


def scapy() -> Any:
    os.environ.setdefault("XDG_CACHE_HOME", "/tmp")  # scapy writes a cache; keep it off the node's /root
    import scapy.all as sc

    sc.conf.verb = 0
    return sc


def source_address(dst: str) -> str:
    """The address the kernel sends from towards ``dst`` (the TCP checksum covers it)."""
    out = json.loads(subprocess.run(["ip", "-j", "route", "get", dst], capture_output=True, text=True,
                                    check=True).stdout)
    return str(out[0]["prefsrc"])


def raw(proto: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SO_RCVBUF_BYTES)
    sock.settimeout(0.1)
    return sock


class Scanner:
    """Probes numbered 0..n-1; ``outcomes[i] = (outcome, code, rtt_ms)`` as answers arrive."""

    def __init__(self, probes: list[tuple[str, str, int]]) -> None:
        self.sc = scapy()
        self.probes = probes
        self.ident = random.randrange(1, 0xFFFF)
        self.base_port = random.randrange(20000, 60000 - len(probes))  # probe i's source port: base + i
        self.tcp, self.icmp = raw(socket.IPPROTO_TCP), raw(socket.IPPROTO_ICMP)
        self.sources = {dst: source_address(dst) for dst in {p[0] for p in probes}}
        self.sent_at: dict[int, float] = {}
        self.outcomes: dict[int, tuple[str, int, float]] = {}
        self.done = threading.Event()
        self.readers = [threading.Thread(target=self._read, args=(s,), daemon=True) for s in (self.tcp, self.icmp)]
        for reader in self.readers:
            reader.start()

    def send(self, i: int) -> None:
        dst, proto, port = self.probes[i]
        sc = self.sc
        if proto == "tcp":
            packet = sc.IP(src=self.sources[dst], dst=dst) / sc.TCP(sport=self.base_port + i, dport=port, flags="S",
                                                                   seq=random.randrange(1 << 32))
            segment, sock = bytes(packet)[20:], self.tcp  # the kernel writes the IP header; scapy the checksum
        else:
            segment, sock = bytes(sc.ICMP(id=self.ident, seq=i) / sc.Raw(b"stacklab")), self.icmp
        self.sent_at[i] = time.time()
        try:
            sock.sendto(segment, (dst, 0))
        except OSError as err:  # no route, say: the kernel answers for the path
            self.outcomes[i] = ("rejected", -(err.errno or 0), 0.0)

    def _read(self, sock: socket.socket) -> None:
        while not self.done.is_set():
            try:
                data = sock.recv(65535)
            except (TimeoutError, OSError):
                continue
            found = self._match(self.sc.IP(data))
            if found is not None and found[0] not in self.outcomes and found[0] in self.sent_at:
                i, outcome, code = found
                self.outcomes[i] = (outcome, code, round((time.time() - self.sent_at[i]) * 1000, 3))

    def _match(self, ip: Any) -> tuple[int, str, int] | None:
        """Which probe this packet answers, and how; None when it answers none of ours."""
        sc = self.sc
        tcp, icmp = ip.getlayer(sc.TCP), ip.getlayer(sc.ICMP)
        if tcp is not None and ip.proto == 6:
            i = tcp.dport - self.base_port
            if 0 <= i < len(self.probes) and self.probes[i][0] == ip.src and self.probes[i][2] == tcp.sport:
                flags = int(tcp.flags)
                return (i, "open", 0) if flags & 0x12 == 0x12 else (i, "closed", 0) if flags & 0x04 else None
            return None
        if icmp is None:
            return None
        if icmp.type == 0 and icmp.id == self.ident and 0 <= icmp.seq < len(self.probes):
            return icmp.seq, "answered", 0
        if icmp.type == 3:  # destination unreachable: the probe's own headers are quoted inside
            quoted_tcp, quoted_icmp = ip.getlayer(sc.TCPerror), ip.getlayer(sc.ICMPerror)
            if quoted_tcp is not None:
                i = quoted_tcp.sport - self.base_port
            elif quoted_icmp is not None and quoted_icmp.id == self.ident:
                i = quoted_icmp.seq
            else:
                return None
            return (i, "rejected", int(icmp.code)) if 0 <= i < len(self.probes) else None
        return None

    def close(self) -> None:
        self.done.set()
        for reader in self.readers:
            reader.join(1)
        self.tcp.close()
        self.icmp.close()


def scan(args: dict[str, Any]) -> dict[str, Any]:
    probes = [(str(d), str(p), int(n)) for d, p, n in args["probes"]]
    rate, wait, tries = float(args.get("rate", 2000)), float(args.get("wait", 0.5)), int(args.get("tries", 2))
    started, sent = time.monotonic(), 0
    scanner = Scanner(probes)
    try:
        for _ in range(tries):
            todo = [i for i in range(len(probes)) if i not in scanner.outcomes]
            if not todo:
                break
            for n, i in enumerate(todo):
                scanner.send(i)
                sent += 1
                if n % 16 == 15:  # pace in small bursts: sleeping per packet costs more than the packet
                    time.sleep(16 / rate)
            time.sleep(wait)
    finally:
        scanner.close()
    results = [[*probes[i], *scanner.outcomes.get(i, ("silent", 0, None))] for i in range(len(probes))]
    return {"results": results, "sent": sent, "seconds": round(time.monotonic() - started, 3)}


def main() -> None:
    mode, args = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps({"scan": scan}[mode](args)))


if __name__ == "__main__":
    main()
