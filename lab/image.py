"""The node image: a Debian rootfs with every service package, cached by content hash.

Every node of every lab boots from one read-only rootfs (the overlay's lower layer), so
the expensive part (debootstrap + apt-get, minutes) happens once per package set. The
lab knows no role names: the caller passes the service packages.

Example::

    img = ensure_image(["mariadb-server", "keepalived"], progress=print)
    img.rootfs        # /var/cache/stacklab/images/<hash>/rootfs
    img.manifest["packages_installed"]["mariadb-server"]

A build goes to ``<cache>/.tmp-<hash>-<pid>`` and is renamed into place only when
complete, so a killed build never leaves a valid-looking image; leftovers are removed
by the next build. Every mount a build makes lives in a private mount namespace
(``unshare --mount``), so a SIGKILL leaves no mounts behind either.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from lab import image_recipe as recipe
from lab.errors import LabError, PreflightError
from lab.proc import pid_alive, run_logged

Progress = Callable[[str], None]
DEFAULT_CACHE = Path("/var/cache/stacklab/images")


@dataclasses.dataclass(frozen=True)
class Image:
    """A finished image: ``path`` is ``<cache>/<hash>``, ``rootfs`` the tree nodes boot."""

    hash: str
    path: Path
    rootfs: Path
    manifest: dict

    @classmethod
    def load(cls, path: Path) -> Image:
        """Read an image directory (raises LabError when its manifest is unreadable)."""
        try:
            manifest = json.loads((path / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise LabError(f"image {path} has no readable manifest.json: {exc}") from exc
        return cls(hash=manifest["hash"], path=path, rootfs=path / "rootfs", manifest=manifest)


def image_hash(packages: list[str], suite: str = "bookworm") -> str:
    """Content hash of what goes into an image: suite, package set, recipe text.

    >>> image_hash(["b", "a"]) == image_hash(["a", "b", "a"])
    True
    """
    key = {"suite": suite, "packages": sorted(set(packages)), "recipe": recipe.fingerprint()}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def ensure_image(packages: list[str], *, suite: str = "bookworm",
                 cache_dir: Path = DEFAULT_CACHE, progress: Progress | None = None) -> Image:
    """Return the cached image for this package set, building it only when absent."""
    path = Path(cache_dir) / image_hash(packages, suite)
    if (path / "manifest.json").is_file():
        if progress:
            progress(f"image {path.name}: cached at {path}")
        return Image.load(path)
    return build_image(packages, suite=suite, cache_dir=cache_dir, progress=progress)


def build_image(packages: list[str], *, suite: str = "bookworm",
                cache_dir: Path = DEFAULT_CACHE, progress: Progress | None = None) -> Image:
    """Build (or rebuild) the image for ``packages`` and return it.

    Raises :class:`PreflightError` when not root or debootstrap/unshare is missing, and
    :class:`LabError` when a build step fails (with the command and its output tail).
    """
    say = progress or (lambda _line: None)
    preflight()
    cache_dir = Path(cache_dir).absolute()
    digest = image_hash(packages, suite)
    final = cache_dir / digest
    _refuse_if_in_use(final)
    _remove_stale_builds(cache_dir)
    tmp = cache_dir / f".tmp-{digest}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "rootfs").mkdir(parents=True)
    start = time.monotonic()
    try:
        manifest = _build_into(tmp, digest, suite, sorted(set(packages)), cache_dir, say)
    except BaseException:
        kill_chroot_procs(tmp / "rootfs")
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest["build_seconds"] = round(time.monotonic() - start, 1)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    _replace(tmp, final)
    say(f"image {digest}: done in {manifest['build_seconds']:.0f} s, "
        f"{manifest['size_bytes'] / 2**20:.0f} MiB, "
        f"{len(manifest['packages_installed'])} dpkg packages -> {final}")
    return Image.load(final)


def _build_into(tmp: Path, digest: str, suite: str, packages: list[str],
                cache_dir: Path, say: Progress) -> dict:
    """Run the recipe into ``tmp/rootfs``; return the manifest (minus build time)."""
    rootfs, log = tmp / "rootfs", tmp / "build.log"
    debs = cache_dir / "debs"
    (debs / "debootstrap").mkdir(parents=True, exist_ok=True)
    (debs / "apt" / "partial").mkdir(parents=True, exist_ok=True)
    say(f"image {digest}: debootstrap --variant=minbase {suite} ({recipe.MIRROR})")
    run_logged(recipe.debootstrap_argv(suite, rootfs, debs / "debootstrap"),
               label="debootstrap", progress=say, log=log)
    wanted = recipe.BASELINE + packages
    say(f"image {digest}: apt-get install {len(wanted)} packages "
        f"({len(recipe.BASELINE)} baseline + {len(packages)} requested)")
    chroot_script(rootfs, debs / "apt", recipe.install_script(suite, wanted),
            label="apt-get install", say=say, log=log)
    say(f"image {digest}: configure for container boot (disable units, masks, ids)")
    out = chroot_script(rootfs, debs / "apt", recipe.configure_script(),
                  label="configure image", say=say, log=log)
    kill_chroot_procs(rootfs)
    recipe.finish(rootfs)
    disabled = sorted({ln.split(" ", 1)[1] for ln in out.splitlines() if ln.startswith("disabled ")})
    say(f"image {digest}: disabled {len(disabled)} units; measuring size")
    return {
        "hash": digest, "suite": suite, "packages": packages, "baseline": recipe.BASELINE,
        "recipe_version": recipe.RECIPE_VERSION, "mirror": recipe.MIRROR,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "size_bytes": _du(rootfs), "disabled_units": disabled,
        "packages_installed": _dpkg_versions(rootfs),
    }


def chroot_script(rootfs: Path, apt_cache: Path, script: str, *, label: str, say: Progress,
                  log: Path) -> str:
    """Run ``script`` with /bin/sh inside the rootfs, in a private mount namespace (with
    /proc, a private /dev and ``apt_cache`` as apt's archive dir); its output."""
    argv = ["unshare", "--mount", "--propagation", "private", "--",
            "/bin/sh", "-euc", recipe.CHROOT_SH, "chroot-sh", str(rootfs), str(apt_cache),
            script]
    return run_logged(argv, label=label, progress=say, log=log)


def preflight() -> None:
    """Raise PreflightError unless we are root and debootstrap + unshare exist."""
    if os.geteuid() != 0:
        raise PreflightError("building a node image needs root (debootstrap, chroot)")
    for tool, package in (("debootstrap", "debootstrap"), ("unshare", "util-linux"),
                          ("chroot", "coreutils"), ("dpkg-query", "dpkg")):
        if shutil.which(tool) is None:
            raise PreflightError(f"{tool} not found: apt-get install -y {package}")


def list_images(cache_dir: Path = DEFAULT_CACHE) -> list[Image]:
    """Every complete image in ``cache_dir``, newest first (temp builds are skipped)."""
    images = []
    for path in Path(cache_dir).glob("*/manifest.json"):
        if not path.parent.name.startswith("."):
            images.append(Image.load(path.parent))
    return sorted(images, key=lambda i: i.manifest.get("built_at", ""), reverse=True)


def prune_images(keep: set[str] | None = None, cache_dir: Path = DEFAULT_CACHE) -> list[str]:
    """Remove every image whose hash is not in ``keep`` (and stale temp builds).

    Images in use as an overlay lower layer are kept. Returns the removed hashes.
    ``keep=None`` keeps nothing (the .deb cache stays: it makes rebuilds cheap).
    """
    keep = keep or set()
    _remove_stale_builds(Path(cache_dir))
    removed = []
    for image in list_images(cache_dir):
        if image.hash in keep or _mounted_users(image.rootfs):
            continue
        shutil.rmtree(image.path)
        removed.append(image.hash)
    return removed


def _mounted_users(rootfs: Path) -> list[str]:
    """Mount points whose overlay uses ``rootfs`` as a lower layer."""
    needle = f"lowerdir={rootfs}"
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return [ln.split()[1] for ln in mounts if needle in ln]


def _refuse_if_in_use(final: Path) -> None:
    """Replacing an image under running nodes would pull files from under them."""
    users = _mounted_users(final / "rootfs")
    if users:
        raise LabError(f"image {final} is in use by {len(users)} node(s) "
                       f"(e.g. {users[0]}): bring those labs down before rebuilding it")


def _replace(tmp: Path, final: Path) -> None:
    """Atomically move a finished build into place (an old copy is renamed away first)."""
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        final.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    tmp.rename(final)


def _remove_stale_builds(cache_dir: Path) -> None:
    """Delete ``.tmp-*``/``.old-*`` dirs whose building process is gone."""
    for path in cache_dir.glob(".*-*-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            kill_chroot_procs(path / "rootfs")
            shutil.rmtree(path, ignore_errors=True)


def kill_chroot_procs(rootfs: Path) -> None:
    """Kill processes whose root is this rootfs (a postinst may leave a daemon behind)."""
    target = str(rootfs)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            root = os.readlink(entry / "root")
        except OSError:
            continue
        if root == target or root.startswith(target + "/"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), 9)


def _du(path: Path) -> int:
    """Disk usage of a tree in bytes (``du -sxb``: apparent size, one filesystem)."""
    out = subprocess.run(["du", "-sxb", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def _dpkg_versions(rootfs: Path) -> dict[str, str]:
    """``{package: version}`` of everything installed in the rootfs."""
    out = run_logged(["dpkg-query", f"--admindir={rootfs}/var/lib/dpkg", "-W",
                      "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n"],
                     label="dpkg-query")
    rows = (ln.split("\t") for ln in out.splitlines() if ln.count("\t") == 2)
    return {name: ver for name, ver, status in rows if status.startswith("ii")}
