"""Nodes as LXC system containers (Debian package ``lxc``), systemd as PID 1.

Layout of a lab on disk (everything carries the lab's name)::

    /var/lib/stacklab/<lab>/lxc/sl-<lab>.<node>/config     lxcpath (-P) per lab
    /var/lib/stacklab/<lab>/nodes/<node>/upper, work        overlay over the image
    /var/lib/stacklab/<lab>/nodes/<node>/console.log        boot messages, for errors
    /var/lib/stacklab/<lab>/nodes/<node>/lxc.log            LXC's own errors

Commands run through ``lxc-attach --clear-env`` (≈ 7 ms a call here; nsenter is
≈ 2 ms but would leave the command outside the node's cgroups and capability set).

Example::

    be = LxcBackend()
    be.up("demo", [NodeSpec("n1", "n1", Path("/run/netns/sl-demo.n1"))], image)
    be.run("demo", "n1", ["cat", "/etc/hostname"], timeout=5).stdout
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab.backends.base import Backend, Capabilities, Completed, NodeSpec, NodeState, PowerAction
from lab.backends.lxc import host, reap
from lab.backends.lxc.config import (
    LAB_ROOT,
    attach_argv,
    container_name,
    container_prefix,
    lab_dir,
    lxcpath,
    node_dir,
    render_config,
)
from lab.errors import LabError, NodeBootError, PreflightError
from lab.image import Image

_STATES: dict[str, NodeState] = {
    "RUNNING": "running", "STARTING": "running", "THAWED": "running",
    "FROZEN": "frozen", "FREEZING": "frozen",
    "STOPPED": "stopped", "STOPPING": "stopped", "ABORTING": "stopped"}
_BOOTED = ("running", "degraded")
_BOOTING = ("initializing", "starting", "offline", "unknown", "")


class LxcBackend(Backend):
    """The default backend. Needs root and the Debian package ``lxc``."""

    name = "lxc"
    # Containers run on the host's kernel (no time namespace) in namespaces the fabric
    # made first: the clock is the host's, and a stopped container's netns stays.
    capabilities = Capabilities(shared_clock=True, netns_survives_power_off=True, own_wall_clock=False,
                                dhcp_networks=True)

    def __init__(self) -> None:
        """Become a child subreaper first: see reap.py for why."""
        reap.become_subreaper()

    # ----------------------------------------------------------------- naming
    def _lxc(self, tool: str, lab: str, node: str, *args: str) -> list[str]:
        """argv for an lxc-* tool aimed at one node (``-P`` must be absolute)."""
        return [f"lxc-{tool}", "-P", str(lxcpath(lab)), "-n",
                container_name(lab, node), *args]

    def _nodes_on_disk(self, lab: str) -> list[str]:
        """Node names whose container config exists under the lab's lxcpath."""
        path, prefix = lxcpath(lab), container_prefix(lab)
        if not path.is_dir():
            return []
        return sorted(p.name[len(prefix):] for p in path.iterdir()
                      if p.name.startswith(prefix) and (p / "config").is_file())

    # ------------------------------------------------------------ interface
    def preflight(self) -> None:
        """Root, the lxc tools and LXC's common config, a mounted cgroup filesystem."""
        if os.geteuid() != 0:
            raise PreflightError("the lxc backend needs root (containers, namespaces)")
        for tool in ("lxc-start", "lxc-attach", "lxc-stop", "lxc-info", "lxc-freeze"):
            if shutil.which(tool) is None:
                raise PreflightError(f"{tool} not found: apt-get install -y lxc")
        if not Path("/usr/share/lxc/config/common.conf").is_file():
            raise PreflightError("/usr/share/lxc/config/common.conf missing: "
                                 "apt-get install --reinstall -y lxc")
        if not host.cgroup_roots():
            raise PreflightError("no cgroup filesystem mounted under /sys/fs/cgroup")

    def up(self, lab: str, nodes: list[NodeSpec], image: Image, *,
           timeout: float = 60.0) -> None:
        """Write each node's config, start them all in parallel, wait for systemd."""
        self.preflight()
        for spec in nodes:
            if spec.netns_path is not None and not Path(spec.netns_path).exists():
                raise LabError(f"network namespace {spec.netns_path} of node {spec.name} "
                               "does not exist: the fabric creates it before up")
        host.raise_inotify_limits(say=lambda line: print(f"lxc: {line}", flush=True))
        states = self.status(lab)
        todo = [s for s in nodes if states.get(s.name, "absent") in ("absent", "stopped")]
        for spec in todo:
            self._write_config(lab, spec, image)
        self._start_and_wait(lab, [s.name for s in todo], timeout)

    def down(self, lab: str) -> None:
        """Stop and remove every node of ``lab``; see host.py for the why of each step."""
        path = lxcpath(lab)
        monitors = reap.monitor_containers(path)  # before stop: they exit with it
        names = {container_name(lab, n) for n in self._nodes_on_disk(lab)} | set(monitors)
        host.stop_containers(path, sorted(names))  # stragglers: killed via cgroups below
        cgroups = [cg for c in sorted(names) for cg in host.container_cgroups(c)]
        survivors = host.kill_cgroups(cgroups)
        for pid in monitors.values():
            reap.kill(pid)
        reap.wait_gone(list(monitors.values()), 5.0)
        reap.reap_orphans()
        left = host.remove_cgroups(cgroups)
        host.remove_pivot_cgroups()
        host.unmount_under(lab_dir(lab))
        if host.mounts_under(lab_dir(lab)):
            raise LabError(f"down {lab}: still mounted: {host.mounts_under(lab_dir(lab))}")
        shutil.rmtree(lab_dir(lab), ignore_errors=True)
        if survivors or left or lab_dir(lab).exists():
            raise LabError(f"down {lab}: could not remove everything: processes "
                           f"{sorted(survivors)}, cgroups {[str(p) for p in left]}, "
                           f"dir exists: {lab_dir(lab).exists()}")

    def run(self, lab: str, node: str, argv: list[str], *, input: bytes | str | None = None,
            timeout: float | None = 60.0, env: dict[str, str] | None = None) -> Completed:
        """``lxc-attach --clear-env`` with NODE_ENV (+ ``env``); see Backend.run."""
        cmd = attach_argv(lab, node, argv, env)
        data = input.encode() if isinstance(input, str) else input
        start = time.monotonic()
        proc = reap.spawn(cmd, stdin=subprocess.PIPE if data is not None else
                          subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, cwd="/")
        try:
            out, err = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            reap.kill_tree(proc.pid)  # also the command inside, or it pins the node
            # Not communicate(): a command stuck in a frozen node holds the pipes open.
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe:
                    pipe.close()
            proc.wait()
            reap.release(proc)
            reap.reap_orphans()
            raise LabError(f"command on node {node} of lab {lab} timed out after "
                           f"{timeout} s: {subprocess.list2cmdline(argv)}") from exc
        reap.release(proc)
        if proc.returncode != 0 and _attach_failed(err):
            raise LabError(f"cannot run {subprocess.list2cmdline(argv)} on node {node} "
                           f"of lab {lab} (state {self._state(lab, node)}): "
                           f"{err.decode(errors='replace').strip()}")
        return Completed(node, list(argv), proc.returncode, out, err,
                         round(time.monotonic() - start, 4))

    def shell_argv(self, lab: str, node: str, argv: list[str], env: dict[str, str] | None = None) -> list[str]:
        return attach_argv(lab, node, argv, env)

    def memory_bytes(self, lab: str, node: str) -> int | None:
        return host.memory_bytes(container_name(lab, node))

    def labs(self) -> set[str]:
        """Labs with a directory under LAB_ROOT (containers, overlays, logs)."""
        return {p.name for p in LAB_ROOT.iterdir() if p.is_dir()} if LAB_ROOT.is_dir() else set()

    def status(self, lab: str) -> dict[str, NodeState]:
        """State of every node the lab has on disk (``lxc-info -s``)."""
        return {n: self._state(lab, n) for n in self._nodes_on_disk(lab)}

    def power(self, lab: str, node: str, action: PowerAction, *,
              timeout: float = 60.0) -> None:
        """off: ``lxc-stop -k`` (a pulled plug); on: start + wait; freeze/thaw."""
        if node not in self._nodes_on_disk(lab):
            raise LabError(f"lab {lab} has no node {node} (nodes: {self._nodes_on_disk(lab)})")
        if action == "off":
            self._power_off(lab, node)
        elif action == "on":
            if self._state(lab, node) == "stopped":
                # A power-on is done when the machine has booted (basic.target); its
                # services may still be starting: a Galera node waiting for quorum keeps
                # systemd "starting" for minutes, and that is the cluster's business.
                self._start_and_wait(lab, [node], timeout, services=False)
        elif action in ("freeze", "thaw"):
            tool = "freeze" if action == "freeze" else "unfreeze"
            _check(self._lxc(tool, lab, node), f"{action} node {node} of lab {lab}")
        else:
            raise LabError(f"unknown power action {action!r}: use off, on, freeze, thaw")
        reap.reap_orphans()

    # -------------------------------------------------------------- helpers
    def _state(self, lab: str, node: str) -> NodeState:
        """One node's state from ``lxc-info -s`` (absent when LXC does not know it)."""
        proc = reap.run_tool(self._lxc("info", lab, node, "-s", "-H"))
        if proc.returncode != 0:
            return "absent"
        return _STATES.get(proc.stdout.strip(), "stopped")

    def _power_off(self, lab: str, node: str) -> None:
        """lxc-stop -k; if that hangs, kill the node's cgroups and await 'stopped'."""
        cname = container_name(lab, node)
        if not host.stop_containers(lxcpath(lab), [cname]):
            return
        payload = [cg for cg in host.container_cgroups(cname) if ".payload." in cg.name]
        host.kill_cgroups(payload)
        deadline = time.monotonic() + 10
        while self._state(lab, node) != "stopped":
            if time.monotonic() > deadline:
                raise LabError(f"power off node {node} of lab {lab}: still "
                               f"{self._state(lab, node)} 10 s after killing its processes "
                               "(awaited state stopped)")
            reap.reap_orphans()
            time.sleep(0.05)

    def _write_config(self, lab: str, spec: NodeSpec, image: Image) -> None:
        """The container config; keys and their reasons are in docs/facts.md (LXC)."""
        ndir = node_dir(lab, spec.name)
        (ndir / "upper").mkdir(parents=True, exist_ok=True)
        cdir = lxcpath(lab) / container_name(lab, spec.name)
        cdir.mkdir(parents=True, exist_ok=True)
        (cdir / "config").write_text(render_config(spec, image, ndir))

    def _start_and_wait(self, lab: str, nodes: list[str], timeout: float, services: bool = True) -> None:
        """Start ``nodes`` in parallel (a thread each); NodeBootError names the late ones."""
        if not nodes:
            return
        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            errors = [e for e in pool.map(lambda n: self._boot(lab, n, timeout, services), nodes) if e]
        reap.reap_orphans()
        if errors:
            raise NodeBootError(f"lab {lab}: {len(errors)} of {len(nodes)} node(s) did not "
                                "boot:\n" + "\n".join(errors))

    def _boot(self, lab: str, node: str, timeout: float, services: bool = True) -> str | None:
        """Start one node and poll ``systemctl is-system-running``; None or a report."""
        ndir = node_dir(lab, node)
        for log in ("console.log", "lxc.log"):
            (ndir / log).unlink(missing_ok=True)
        proc = reap.run_tool(self._lxc("start", lab, node, "-d"))
        if proc.returncode != 0:
            return (f"- {node}: lxc-start failed: {proc.stderr.strip()}\n"
                    f"  lxc.log:\n{host.tail(ndir / 'lxc.log')}\n"
                    f"  console:\n{host.tail(ndir / 'console.log')}")
        deadline, answer = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            answer = self._system_state(lab, node)
            if answer in _BOOTED:
                return None
            if not services and answer == "starting" and self._basic_reached(lab, node):
                return None
            if answer in ("maintenance", "stopping"):
                break  # systemd gave up (emergency mode) or is going down: no use waiting
            if not answer and self._state(lab, node) == "stopped":
                break  # init died: the console tail says why
            time.sleep(0.05)
        return (f"- {node}: systemctl is-system-running = {answer or 'no answer'!r} "
                f"(awaited running|degraded within {timeout:g} s)\n"
                f"  console tail:\n{host.tail(ndir / 'console.log')}")

    def _basic_reached(self, lab: str, node: str) -> bool:
        done = self.run(lab, node, ["systemctl", "is-active", "--quiet", "basic.target"], timeout=10)
        return done.ok

    def _system_state(self, lab: str, node: str) -> str:
        """systemd's overall state inside the node ('' if not reachable yet)."""
        try:
            done = self.run(lab, node, ["systemctl", "is-system-running"], timeout=5)
        except LabError:
            return ""
        out = done.stdout.strip()
        return out if out in _BOOTED + _BOOTING + ("maintenance", "stopping") else ""


def _attach_failed(stderr: bytes) -> bool:
    """True when lxc-attach itself failed (node not running), not the command."""
    return stderr.lstrip().startswith(b"lxc-attach: ")


def _check(argv: list[str], what: str) -> None:
    """Run an lxc tool; raise LabError with its stderr when it fails."""
    proc = reap.run_tool(argv)
    if proc.returncode != 0:
        raise LabError(f"{what} failed: {subprocess.list2cmdline(argv)}: "
                       f"{proc.stderr.strip() or proc.stdout.strip()}")
