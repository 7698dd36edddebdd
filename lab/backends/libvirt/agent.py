"""Commands in a VM through the qemu guest agent: no network route from the host needed.

``guest-exec`` starts the command (argv, environment, stdin as base64) and
``guest-exec-status`` is polled until it exits; stdout and stderr come back whole
(qemu-ga keeps up to 16 MiB of each). A command still running at the timeout is killed
inside the guest (``kill -9`` through the agent) and reported as a LabError.

Example::

    out = agent_run(dom, ["hostname"], env={"PATH": "/usr/bin:/bin"}, timeout=10)
    out.returncode, out.stdout
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from typing import Any

from lab.errors import LabError

_POLL_FIRST, _POLL_MAX = 0.005, 0.1


class AgentError(LabError):
    """The guest agent did not answer (not started yet, node paused or gone)."""


def command(dom: Any, cmd: str, timeout: float = 10.0, **arguments: Any) -> Any:
    """One agent command; its ``return`` value."""
    import libvirt
    import libvirt_qemu

    request = json.dumps({"execute": cmd, "arguments": arguments} if arguments else {"execute": cmd})
    try:
        reply = libvirt_qemu.qemuAgentCommand(dom, request, max(1, int(timeout)), 0)
    except libvirt.libvirtError as exc:
        raise AgentError(f"guest agent of {dom.name()}: {exc.get_error_message()}") from exc
    return json.loads(reply)["return"]


def agent_run(dom: Any, argv: list[str], *, env: dict[str, str], data: bytes | None,
              timeout: float | None) -> tuple[int, bytes, bytes]:
    """Run ``argv`` in the guest; (exit code, stdout, stderr). Raises LabError on timeout."""
    args: dict[str, Any] = {"path": argv[0], "arg": argv[1:], "capture-output": True,
                            "env": [f"{k}={v}" for k, v in env.items()]}
    if data is not None:
        args["input-data"] = base64.b64encode(data).decode()
    pid = command(dom, "guest-exec", **args)["pid"]
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = _POLL_FIRST
    while True:
        status = command(dom, "guest-exec-status", pid=pid)
        if status.get("exited"):
            return _result(status)
        if deadline is not None and time.monotonic() > deadline:
            _kill(dom, pid)
            raise LabError(f"command on {dom.name()} timed out after {timeout} s: {' '.join(argv)}")
        time.sleep(pause)
        pause = min(pause * 2, _POLL_MAX)


def _result(status: dict[str, Any]) -> tuple[int, bytes, bytes]:
    out = base64.b64decode(status.get("out-data", ""))
    err = base64.b64decode(status.get("err-data", ""))
    if "signal" in status and "exitcode" not in status:
        return 128 + int(status["signal"]), out, err
    return int(status.get("exitcode", 255)), out, err


def _kill(dom: Any, pid: int) -> None:
    """Kill a timed-out command in the guest (best effort: the node may be wedged)."""
    with contextlib.suppress(LabError):
        command(dom, "guest-exec", path="/bin/kill", arg=["-9", str(pid)])
