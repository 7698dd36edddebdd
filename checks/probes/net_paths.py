"""In-node path probes: loss and latency to peers, and the largest packet a path carries
(runs INSIDE a lab node or instance namespace, never on the host).

Run as ``python3 - MODE ARGS_JSON`` (this file on stdin); prints one JSON object.

- ``loss``: ``count`` ICMP echoes to each of ``targets``, interleaved (``inter`` s apart);
  per target: sent, answered, median and max RTT in ms.
- ``burst``: ``count`` DF echoes of ``size`` bytes to ``target``, sent and not waited
  for (the host compares interface drop counters before and after).
- ``mtu``: for each of ``targets``, the largest ICMP echo with DF set that gets an
  answer, to the byte. The first probe is at the MTU the local interface claims, so a
  healthy path costs one packet; a path that carries less is searched in rounds of up to
  32 sizes sent at once (3 rounds from 9000 down to 1500). An ICMP fragmentation-needed
  answer is reported with its sender and the next-hop MTU it announced (a silent drop
  has none: the Liberty bug).

scapy builds every ICMP message and dissects every answer; the kernel's raw ICMP socket
carries them (``Pinger``). scapy's own packet-socket capture was tried first and missed
25-55 % of the answers when four nodes probed at once on 2 busy cores (the kernel's
ping lost none): a loss matrix cannot afford a capture that loses packets. The kernel
socket buffers every answer until it is read, and stamps its arrival time (SO_TIMESTAMPNS),
so a slow Python reader changes neither the loss nor the RTT.

Sizes are whole IP packets (20-byte header included), as an interface MTU counts them.
Each probe is one packet built by hand, never a GSO super-packet that offloads could
let through.
"""

from __future__ import annotations

import json
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from typing import Any

MIN_MTU = 576  # every IPv4 path carries this (RFC 791); the search's floor
REPLY_WAIT = 0.15  # seconds for an answer: lab paths answer in well under 10 ms
TRIES = 2  # a size passes if any try is answered (one lost probe is loss, not MTU)
ROUND = 32  # sizes probed at once in one round of the MTU search
IP_MTU_DISCOVER = 10  # Linux <linux/in.h>; the socket module does not name it
IP_PMTUDISC_PROBE = 3  # DF set, the kernel's path-MTU cache ignored: the probe is the packet we built
HEADERS = 28  # IPv4 20 + ICMP 8
SO_TIMESTAMPNS = 35  # Linux (asm-generic/socket.h); the socket module does not name it


def scapy() -> Any:
    os.environ.setdefault("XDG_CACHE_HOME", "/tmp")  # scapy writes a cache; keep it off the node's /root
    import scapy.all as sc

    sc.conf.verb = 0
    return sc


class Pinger:
    """Echoes built by scapy, sent and received on one raw ICMP socket; answers collected
    by a thread: ``answers[(dst, seq)] = rtt_s`` and ``frag_needed[seq] = (from, mtu)``."""

    def __init__(self, df: bool = False) -> None:
        self.sc = scapy()
        self.ident = random.randrange(1, 0xFFFF)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        if df:
            self.sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE)
        self.sent: dict[tuple[str, int], float] = {}
        self.answers: dict[tuple[str, int], float] = {}
        self.frag_needed: dict[int, tuple[str, int]] = {}
        self.done = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def send(self, dst: str, seq: int, size: int = 64) -> bool:
        """One echo of ``size`` bytes (IP packet); False when the kernel refused it (EMSGSIZE)."""
        message = bytes(self.sc.ICMP(id=self.ident, seq=seq) / self.sc.Raw(b"\0" * (size - HEADERS)))
        try:
            self.sent[(dst, seq)] = time.time()
            self.sock.sendto(message, (dst, 0))
            return True
        except OSError:
            return False

    def _read(self) -> None:
        self.sock.settimeout(0.1)
        while not self.done.is_set():
            try:
                data, ancillary, _, _ = self.sock.recvmsg(65535, 64)
            except (TimeoutError, OSError):
                continue
            self._dissect(self.sc.IP(data), _stamp(ancillary))

    def _dissect(self, ip: Any, at: float) -> None:
        icmp = ip.getlayer(self.sc.ICMP)
        if icmp is None:
            return
        if icmp.type == 0 and icmp.id == self.ident and (ip.src, icmp.seq) in self.sent:
            self.answers[(ip.src, icmp.seq)] = at - self.sent[(ip.src, icmp.seq)]
        elif icmp.type == 3 and icmp.code == 4:  # the original header is quoted inside
            quoted = icmp.getlayer(self.sc.ICMPerror)
            if quoted is not None and quoted.id == self.ident:
                self.frag_needed[quoted.seq] = (ip.src, int(icmp.nexthopmtu))

    def wait(self, keys: list[tuple[str, int]], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(k in self.answers for k in keys):
            time.sleep(0.01)

    def close(self) -> None:
        self.done.set()
        self.reader.join(1)
        self.sock.close()


def _stamp(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The kernel's arrival time of a packet (SO_TIMESTAMPNS), else now."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec + nsec / 1e9
    return time.time()


def route_dev(target: str) -> tuple[str, int]:
    """The interface the kernel would use towards ``target``, and the MTU it claims."""
    out = json.loads(subprocess.run(["ip", "-j", "route", "get", target], capture_output=True,
                                    text=True, check=True).stdout)
    dev = out[0]["dev"]
    with open(f"/sys/class/net/{dev}/mtu") as f:
        return dev, int(f.read())


def loss(args: dict[str, Any]) -> dict[str, Any]:
    count, targets, inter = int(args["count"]), list(args["targets"]), float(args.get("inter", 0.002))
    pinger = Pinger()
    try:
        for seq in range(count):
            for target in targets:
                pinger.send(target, seq)
            time.sleep(inter * len(targets))
        pinger.wait(list(pinger.sent), float(args.get("timeout", 1.0)))
    finally:
        pinger.close()
    out = {}
    for target in targets:
        rtts = [rtt * 1000 for (dst, _), rtt in pinger.answers.items() if dst == target]
        out[target] = {"sent": count, "answered": len(rtts),
                       "rtt_ms_median": round(statistics.median(rtts), 3) if rtts else None,
                       "rtt_ms_max": round(max(rtts), 3) if rtts else None}
    return out


def answered(pinger: Pinger, target: str, sizes: list[int]) -> set[int]:
    """Echoes of every size at once (each twice: one lost answer is loss, not MTU); the
    sizes that got an answer within REPLY_WAIT. The size is the echo's sequence number."""
    keys = [(target, size) for size in sizes]
    for _ in range(TRIES):
        for size in sizes:
            pinger.send(target, size, size)
    pinger.wait(keys, REPLY_WAIT)
    return {size for size in sizes if (target, size) in pinger.answers}


def largest(pinger: Pinger, target: str, claimed: int) -> dict[str, Any]:
    """The largest size answered, between MIN_MTU (else it is loss, not MTU) and the
    claimed MTU: up to ROUND sizes a round, evenly spread over what is still unknown, so
    8400 unknown bytes take 3 rounds of one REPLY_WAIT each, not 14 probes in a row."""
    if answered(pinger, target, [claimed]):
        return {"path_mtu": claimed, "probes": 1}
    low, high, probes = MIN_MTU - 1, claimed, 1  # low: largest known to pass, high: smallest known to fail
    while high - low > 1:
        step = max(1, (high - low) // ROUND)
        sizes = sorted({*range(low + step, high, step)} | ({MIN_MTU} if low < MIN_MTU else set()))
        ok = answered(pinger, target, sizes)
        probes += len(sizes)
        if low < MIN_MTU and MIN_MTU not in ok:
            return {"path_mtu": None, "probes": probes}  # not even the minimum: loss, not MTU
        low = max(ok | {low})
        high = min([s for s in sizes if s > low] + [high])
    return {"path_mtu": low, "probes": probes}


def mtu(args: dict[str, Any]) -> dict[str, Any]:
    pinger = Pinger(df=True)
    out = {}
    try:
        for target in args["targets"]:
            dev, claimed = route_dev(target)
            started = time.monotonic()
            found = largest(pinger, target, claimed)
            found["seconds"] = round(time.monotonic() - started, 3)
            frag = next(iter(pinger.frag_needed.values()), None)
            pinger.frag_needed.clear()
            out[target] = {"dev": dev, "claimed": claimed, **found,
                           "frag_needed": {"from": frag[0], "next_hop_mtu": frag[1]} if frag else None}
    finally:
        pinger.close()
    return out


def burst(args: dict[str, Any]) -> dict[str, Any]:
    pinger = Pinger(df=True)
    try:
        sent = sum(pinger.send(args["target"], seq, int(args["size"])) for seq in range(int(args["count"])))
        time.sleep(0.2)  # the answers (if any) arrive; the host reads the counters after
    finally:
        pinger.close()
    return {"sent": sent, "size": int(args["size"])}


def main() -> None:
    mode, args = sys.argv[1], json.loads(sys.argv[2])
    result = {"loss": loss, "mtu": mtu, "burst": burst}[mode](args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
