"""In-node Galera writer (Jepsen-style): INSERT sequence numbers through the VIP, one at a
time, each in its own autocommit transaction, and record which were acknowledged.

A sample per attempted INSERT: ``{"k": "w", "seq": n, "t": start, "ok": acked, "lat":
seconds, "err": str|None}``. ``ok`` false means *not acknowledged*: the row may or may
not have been committed (a timeout after the COMMIT left). A failed connect is
``{"k": "connect", ...}`` and uses no sequence number: nothing was sent. After any
error the connection is dropped and a new one made (through the VIP: maybe to another
node). A sequence number is never retried, so a duplicate row is the database's doing.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pymysql  # python3-pymysql: in the image for Keystone
from probe_common import Run, error_text  # shipped beside this script


def connect(cfg: dict[str, Any]) -> Any:
    timeout = float(cfg["timeout"])
    return pymysql.connect(host=cfg["host"], port=int(cfg["port"]), user=cfg["user"], password=cfg["password"],
                           database=cfg["database"], autocommit=True, connect_timeout=timeout,
                           read_timeout=timeout, write_timeout=timeout)


def create_table(run: Run) -> Any:
    """Connect and create the table (retrying until the deadline); the connection or None."""
    while run.go():
        t = time.monotonic()
        try:
            conn = connect(run.cfg)
            with conn.cursor() as cur:
                # A primary key (Galera needs one) that is NOT the sequence number, so a
                # duplicated write would show as two rows.
                cur.execute(f"CREATE TABLE IF NOT EXISTS {run.cfg['table']} (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
                            "seq BIGINT NOT NULL, KEY (seq)) ENGINE=InnoDB")
            run.event("table", table=run.cfg["table"])
            return conn
        except Exception as exc:
            run.emit({"k": "connect", "t": t, "ok": False, "lat": round(time.monotonic() - t, 6),
                      "err": error_text(exc)})
            run.pause(float(run.cfg["interval"]))
    return None


def insert(conn: Any, table: str, seq: int) -> None:
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO {table} (seq) VALUES (%s)", (seq,))


def drop(conn: Any) -> None:
    """Close a connection that failed; closing a broken one may fail too."""
    with contextlib.suppress(Exception):
        conn.close()


def main() -> None:
    run = Run()
    cfg = run.cfg
    interval = float(cfg["interval"])
    seq = 0
    try:
        conn = create_table(run)
        while run.go():
            t = time.monotonic()
            try:
                if conn is None:
                    conn = connect(cfg)
            except Exception as exc:
                run.emit({"k": "connect", "t": t, "ok": False, "lat": round(time.monotonic() - t, 6),
                          "err": error_text(exc)})
                run.pause(interval)
                continue
            seq += 1
            t = time.monotonic()
            try:
                insert(conn, cfg["table"], seq)
                run.emit({"k": "w", "seq": seq, "t": t, "ok": True, "lat": round(time.monotonic() - t, 6), "err": None})
            except Exception as exc:  # any failure leaves the write unacknowledged
                run.emit({"k": "w", "seq": seq, "t": t, "ok": False, "lat": round(time.monotonic() - t, 6),
                          "err": error_text(exc)})
                drop(conn)
                conn = None
            run.pause(interval - (time.monotonic() - t))
    finally:
        run.end()


if __name__ == "__main__":
    main()
