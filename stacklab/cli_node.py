"""Node subcommands of ``stacklab``: exec (a command, its exit code and output) and shell.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from lab import engine
from lab.errors import UsageError


def cmd_exec(args: argparse.Namespace) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise UsageError("nothing to run: stacklab exec NODE -- COMMAND ...")
    lab = engine.require(args.lab).lab
    done = engine.run(lab, args.node, argv, timeout=args.timeout)
    sys.stdout.buffer.write(done.stdout_bytes)
    sys.stderr.buffer.write(done.stderr_bytes)
    return done.returncode


def cmd_shell(args: argparse.Namespace) -> int:
    st = engine.require(args.lab)
    if args.node not in st.nodes:
        raise UsageError(f"lab '{st.lab}' has no node '{args.node}'; nodes: {', '.join(st.nodes)}")
    argv = engine.get_backend(st.backend).shell_argv(st.lab, args.node, ["/bin/bash", "-l"],
                                                      env={"TERM": os.environ.get("TERM", "xterm")})
    os.execvp(argv[0], argv)
    return 0  # pragma: no cover - execvp does not return


def add_commands(sub: Any) -> None:
    p = sub.add_parser("exec", help="run a command in a node; exits with its exit code")
    p.add_argument("--lab", help="lab name (may be omitted when one lab is up)")
    p.add_argument("--timeout", type=float, default=None, help="seconds (default: none)")
    p.add_argument("node", metavar="NODE")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ...")
    p.set_defaults(func=cmd_exec)
    p = sub.add_parser("shell", help="interactive shell in a node")
    p.add_argument("--lab", help="lab name (may be omitted when one lab is up)")
    p.add_argument("node", metavar="NODE")
    p.set_defaults(func=cmd_shell)
