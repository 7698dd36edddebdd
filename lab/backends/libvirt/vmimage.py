"""The VM variant of the node image: the container image plus a kernel, as a qcow2 base.

The container image (:mod:`lab.image`) has no kernel. Its VM variant copies that rootfs,
runs :mod:`~lab.backends.libvirt.recipe` in it (kernel + initramfs, udev, guest agent,
fstab, networkd), then makes a disk of it: ``mkfs.ext4 -d`` straight onto a sparse file
(no partition table: the kernel mounts ``/dev/vda``) and ``qemu-img convert`` to qcow2.
The kernel and initrd are copied out for direct kernel boot.

Cached in ``<image>/vm-<hash>/`` (``base.qcow2``, ``vmlinuz``, ``initrd.img``,
``manifest.json``): the hash covers the container image's hash and the recipe, so the
container image and its hash are untouched, and pruning an image prunes its variants.
Built in ``.tmp-vm-<hash>-<pid>`` and renamed into place when complete.

Example::

    vm = ensure_vm_image(image.ensure_image(packages), say=print)
    vm.base, vm.kernel, vm.initrd
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from lab import image, image_recipe
from lab.backends.libvirt import recipe
from lab.errors import LabError
from lab.proc import pid_alive, run_logged

Say = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class VmImage:
    """A finished VM variant: a read-only qcow2 base, a kernel and an initrd."""

    hash: str
    path: Path

    @property
    def base(self) -> Path:
        return self.path / "base.qcow2"

    @property
    def kernel(self) -> Path:
        return self.path / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.path / "initrd.img"


def vm_hash(base_hash: str) -> str:
    """Hash of the variant: the container image it derives from plus the recipe."""
    return hashlib.sha256(f"{base_hash}\0{recipe.fingerprint()}".encode()).hexdigest()[:16]


def vm_image_of(img: image.Image) -> VmImage:
    """Where the variant of ``img`` lives (built or not)."""
    digest = vm_hash(img.hash)
    return VmImage(digest, img.path / f"vm-{digest}")


def ensure_vm_image(img: image.Image, say: Say) -> VmImage:
    """The VM variant of ``img``, built when absent (minutes: apt-get, mkfs, convert)."""
    vm = vm_image_of(img)
    if (vm.path / "manifest.json").is_file():
        say(f"vm image {vm.hash}: cached at {vm.path}")
        return vm
    for stale in img.path.glob(".tmp-vm-*-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):  # a build that was killed
            image.kill_chroot_procs(stale / "rootfs")
            shutil.rmtree(stale, ignore_errors=True)
    tmp = img.path / f".tmp-vm-{vm.hash}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    start = time.monotonic()
    try:
        manifest = _build(img, tmp, vm.hash, say)
    except BaseException:
        image.kill_chroot_procs(tmp / "rootfs")
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest["build_seconds"] = round(time.monotonic() - start, 1)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    if vm.path.exists():  # another process finished first: theirs is as good
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(vm.path)
    say(f"vm image {vm.hash}: done in {manifest['build_seconds']:.0f} s, "
        f"{manifest['disk_bytes'] / 2**20:.0f} MiB qcow2 -> {vm.path}")
    return vm


def _build(img: image.Image, tmp: Path, digest: str, say: Say) -> dict:
    rootfs, log = tmp / "rootfs", tmp / "build.log"
    say(f"vm image {digest}: copying the node image {img.hash}")
    run_logged(["cp", "-a", "--reflink=auto", str(img.rootfs), str(rootfs)], label="copy rootfs", log=log)
    say(f"vm image {digest}: apt-get install {' '.join(recipe.VM_PACKAGES)}")
    # The node image resolves no names (the lab writes /etc/hosts): apt needs the host's
    # resolver for the build only.
    resolv = rootfs / "etc/resolv.conf"
    node_resolv = resolv.read_bytes()
    resolv.unlink()
    shutil.copyfile("/etc/resolv.conf", resolv)
    try:
        out = image.chroot_script(rootfs, img.path.parent / "debs" / "apt", recipe.vm_script(),
                                  label="vm variant", say=say, log=log)
    finally:
        resolv.unlink()
        resolv.write_bytes(node_resolv)
    image.kill_chroot_procs(rootfs)
    image_recipe.finish(rootfs)
    kernels = {name: sorted((rootfs / "boot").glob(f"{name}-*")) for name in ("vmlinuz", "initrd.img")}
    if not all(kernels.values()):
        raise LabError(f"vm image {digest}: no kernel/initrd in /boot after the install; see {log}")
    for name, found in kernels.items():
        shutil.copyfile(found[-1], tmp / name)
        os.chmod(tmp / name, 0o644)
    used = int(run_logged(["du", "-sxb", str(rootfs)], label="du").split()[0])
    size_mib = (used + recipe.HEADROOM_BYTES) // 2**20
    say(f"vm image {digest}: mkfs.ext4 -d ({size_mib} MiB filesystem, {used / 2**20:.0f} MiB used)")
    raw = tmp / "base.raw"
    run_logged(["mkfs.ext4", "-q", "-F", "-m", "0", "-L", "stacklab", "-d", str(rootfs), str(raw), f"{size_mib}M"],
               label="mkfs.ext4 -d", log=log, progress=say)
    shutil.rmtree(rootfs)
    run_logged(["qemu-img", "convert", "-O", "qcow2", str(raw), str(tmp / "base.qcow2")],
               label="qemu-img convert", log=log, progress=say)
    raw.unlink()
    os.chmod(tmp / "base.qcow2", 0o444)  # a backing file: never written after this
    return {"hash": digest, "from_image": img.hash, "packages": recipe.VM_PACKAGES,
            "kernel": kernels["vmlinuz"][-1].name, "fs_bytes": size_mib * 2**20,
            "disk_bytes": (tmp / "base.qcow2").stat().st_size,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "install_tail": out.splitlines()[-3:]}
