"""Object I/O run INSIDE a lab node (``/usr/bin/python3 -c <this file> ARGS_JSON``) with the
node's python3-rados: one connection for many objects (a ``rados put`` per object costs
a process start each), and op timeouts so a cluster that cannot serve I/O answers
"timed out" instead of hanging. ``checks.ceph`` sends this file's text; it imports
nothing of stacklab. Prints one JSON object.

Actions (``action`` in ARGS_JSON):

* ``write``: ``n`` objects of ``size`` random bytes named ``prefix-00000``...; prints
  ``{"objects": {name: sha256}, "seconds": s}``.
* ``read``: reads ``names``; prints ``{"sums": {name: sha256 or null}, "errors": {name: msg}}``.
* ``delete``: removes ``names`` (absent ones are fine); prints ``{"removed": n}``.
* ``probe``: writes one object; prints ``{"written": bool, "error": msg, "seconds": s}``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from typing import Any


def connect(timeout: float) -> Any:
    import rados  # the node's python3-rados; not installed on the host

    cluster = rados.Rados(conffile="/etc/ceph/ceph.conf", conf={
        "client_mount_timeout": "15", "rados_mon_op_timeout": "15", "rados_osd_op_timeout": str(int(timeout))})
    cluster.connect(timeout=15)
    return cluster


def write(io: Any, args: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for i in range(args["n"]):
        name, data = f"{args['prefix']}-{i:05d}", os.urandom(args["size"])
        io.write_full(name, data)
        out[name] = hashlib.sha256(data).hexdigest()
    return {"objects": out}


def read(io: Any, args: dict[str, Any]) -> dict[str, Any]:
    sums: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for name in args["names"]:
        try:
            size, _ = io.stat(name)
            sums[name] = hashlib.sha256(io.read(name, length=size)).hexdigest()
        except Exception as exc:  # ObjectNotFound, TimedOut, ...: reported per object
            sums[name], errors[name] = None, f"{type(exc).__name__}: {exc}"
    return {"sums": sums, "errors": errors}


def delete(io: Any, args: dict[str, Any]) -> dict[str, Any]:
    removed = 0
    for name in args["names"]:
        try:
            io.remove_object(name)
            removed += 1
        except Exception:  # ObjectNotFound: a ring slot never written
            continue
    return {"removed": removed}


def probe(io: Any, args: dict[str, Any]) -> dict[str, Any]:
    try:
        io.write_full(args["prefix"] + "-probe", os.urandom(4096))
        return {"written": True, "error": ""}
    except Exception as exc:  # TimedOut is the expected answer of a blocked pool
        return {"written": False, "error": f"{type(exc).__name__}: {exc}"}


def main() -> None:
    args = json.loads(sys.argv[1])
    start = time.monotonic()
    try:
        cluster = connect(args.get("op_timeout", 30))
    except Exception as exc:  # no mon quorum within the timeout: an answer, not a traceback
        error = f"connect: {type(exc).__name__}: {exc}"
        print(json.dumps({"written": False, "error": error} if args["action"] == "probe" else {"error": error}))
        sys.exit(0 if args["action"] == "probe" else 2)
    try:
        io = cluster.open_ioctx(args["pool"])
        result = {"write": write, "read": read, "probe": probe, "delete": delete}[args["action"]](io, args)
    finally:
        cluster.shutdown()
    result["seconds"] = round(time.monotonic() - start, 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
