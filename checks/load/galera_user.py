"""Locustfile (runs INSIDE a lab node): an application's database traffic through the
database VIP (haproxy → one Galera node), a small transaction mix per user::

    sql select        SELECT one row by primary key           6
    sql insert        INSERT one row (autocommit)              3
    sql update        UPDATE one row (autocommit)              2
    sql transaction   BEGIN; INSERT; UPDATE; SELECT; COMMIT    1

Each user keeps one connection (as an application's pool does) and opens a new one
after any error (through the VIP: maybe to another node). 1 s to connect, 5 s per read
or write. The table is the run's own (``config.json`` names it; the host drops it).
pymysql is pure Python, so locust's gevent patching makes it cooperative.
"""

from __future__ import annotations

import contextlib
import random
from typing import Any

import pymysql  # python3-pymysql: in the image for Keystone
from load_common import config, timed  # shipped beside this file
from locust import User, between, events, task

CFG = config()
TABLE = CFG["table"]


def connect() -> Any:
    return pymysql.connect(host=CFG["host"], port=int(CFG["port"]), user=CFG["user"], password=CFG["password"],
                           database=CFG["database"], autocommit=True, connect_timeout=1.0, read_timeout=5.0,
                           write_timeout=5.0)


@events.test_start.add_listener
def create_table(**_: Any) -> None:
    conn = connect()
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
                    "owner VARCHAR(40) NOT NULL, v BIGINT NOT NULL DEFAULT 0) ENGINE=InnoDB")
    conn.close()


class GaleraUser(User):
    wait_time = between(float(CFG.get("wait_min", 0.05)), float(CFG.get("wait_max", 0.3)))

    def on_start(self) -> None:
        self.conn: Any = None
        self.owner = f"u{random.randrange(10**9)}"
        self.ids: list[int] = []

    def sql(self, name: str, statements: list[tuple[str, tuple[Any, ...]]]) -> Any:
        """Run the statements as one reported request; a failure drops the connection."""
        def call() -> Any:
            if self.conn is None:
                self.conn = connect()
            try:
                with self.conn.cursor() as cur:
                    for sql, args in statements:
                        cur.execute(sql, args)
                    return cur.lastrowid, cur.fetchall()
            except Exception:
                with contextlib.suppress(Exception):
                    self.conn.close()
                self.conn = None
                raise

        return timed(self.environment, name, "sql", call)

    def known_id(self) -> int | None:
        return random.choice(self.ids) if self.ids else None

    @task(6)
    def select(self) -> None:
        if (row := self.known_id()) is not None:
            self.sql("sql select", [(f"SELECT v FROM {TABLE} WHERE id = %s", (row,))])

    @task(3)
    def insert(self) -> None:
        done = self.sql("sql insert", [(f"INSERT INTO {TABLE} (owner) VALUES (%s)", (self.owner,))])
        if done and len(self.ids) < 1000:
            self.ids.append(int(done[0]))

    @task(2)
    def update(self) -> None:
        if (row := self.known_id()) is not None:
            self.sql("sql update", [(f"UPDATE {TABLE} SET v = v + 1 WHERE id = %s", (row,))])

    @task(1)
    def transaction(self) -> None:
        row = self.known_id() or 0
        self.sql("sql transaction", [
            ("BEGIN", ()),
            (f"INSERT INTO {TABLE} (owner) VALUES (%s)", (self.owner,)),
            (f"UPDATE {TABLE} SET v = v + 1 WHERE id = %s", (row,)),
            (f"SELECT COUNT(*) FROM {TABLE} WHERE owner = %s", (self.owner,)),
            ("COMMIT", ()),
        ])

    def on_stop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
