"""In-node RabbitMQ checker: publish numbered persistent messages with publisher confirms
to a quorum queue (mode ``publish``), or take every message out of it and report what
is there (mode ``drain``).

``publish`` samples: ``{"k": "pub", "seq": n, "t": start, "ok": confirmed, "lat": s,
"node": broker, "err": str|None}``; a failed connect is ``{"k": "connect", ...}`` and uses
no sequence number. One message in flight: py-amqp matches a confirm to the last
publish, so after any error or a confirm timeout the connection is dropped (a late
confirm must not be taken for the next message) and the next broker in the list tried,
as oslo.messaging rotates through its transport URL hosts.

``drain`` samples: ``{"k": "msg", "seq": n}`` per message found (acknowledged, so
removed), then an event ``drained``; with ``delete`` the queue is deleted afterwards.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import amqp  # python3-amqp: in the image as an oslo.messaging dependency
from probe_common import Run, error_text  # shipped beside this script


def connect(cfg: dict[str, Any], host: str, confirm: bool) -> Any:
    timeout = float(cfg["timeout"])
    conn = amqp.Connection(host=f"{host}:5672", userid=cfg["user"], password=cfg["password"], virtual_host="/",
                           connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout,
                           confirm_publish=confirm)
    conn.connect()
    return conn


def declare(channel: Any, queue: str, passive: bool = False) -> tuple[str, int, int]:
    """Declare the durable quorum queue (same arguments each time: idempotent)."""
    result: tuple[str, int, int] = channel.queue_declare(
        queue=queue, passive=passive, durable=True, auto_delete=False, arguments={"x-queue-type": "quorum"})
    return result


def drop(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.collect()  # close() would talk to a broker that may be gone


def publish(run: Run) -> None:
    cfg = run.cfg
    hosts: list[str] = cfg["hosts"]
    turn, seq, conn, channel = 0, 0, None, None
    while run.go() and seq < int(cfg["count"]):
        t = time.monotonic()
        host = hosts[turn % len(hosts)]
        if conn is None:
            try:
                conn = connect(cfg, host, confirm=True)
                channel = conn.channel()
                declare(channel, cfg["queue"])
            except Exception as exc:
                run.emit({"k": "connect", "t": t, "ok": False, "lat": round(time.monotonic() - t, 6),
                          "node": host, "err": error_text(exc)})
                drop(conn)
                conn, turn = None, turn + 1
                run.pause(float(cfg["interval"]))
                continue
        seq += 1
        t = time.monotonic()
        try:
            assert channel is not None
            channel.basic_publish(amqp.Message(str(seq), delivery_mode=2), exchange="", routing_key=cfg["queue"],
                                  confirm_timeout=float(cfg["timeout"]))
            run.emit({"k": "pub", "seq": seq, "t": t, "ok": True, "lat": round(time.monotonic() - t, 6),
                      "node": host, "err": None})
        except Exception as exc:  # a nack, a timeout, a closed connection: not confirmed
            run.emit({"k": "pub", "seq": seq, "t": t, "ok": False, "lat": round(time.monotonic() - t, 6),
                      "node": host, "err": error_text(exc)})
            drop(conn)
            conn, turn = None, turn + 1
        run.pause(float(cfg["interval"]) - (time.monotonic() - t))
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()


def drain(run: Run) -> None:
    cfg = run.cfg
    errors = []
    for host in cfg["hosts"]:
        try:
            conn = connect(cfg, host, confirm=False)
        except Exception as exc:
            errors.append(f"{host}: {error_text(exc)}")
            continue
        channel = conn.channel()
        _, ready, _ = declare(channel, cfg["queue"], passive=True)
        found = 0
        while run.go():
            msg = channel.basic_get(cfg["queue"], no_ack=False)
            if msg is None:
                break
            run.emit({"k": "msg", "seq": int(msg.body)})
            channel.basic_ack(msg.delivery_tag)
            found += 1
        if cfg.get("delete"):
            channel.queue_delete(cfg["queue"])
        run.event("drained", node=host, ready=ready, found=found)
        conn.close()
        return
    run.event("error", message="no broker answered: " + "; ".join(errors))


def main() -> None:
    run = Run()
    try:
        (publish if run.cfg["mode"] == "publish" else drain)(run)
    finally:
        run.end()


if __name__ == "__main__":
    main()
