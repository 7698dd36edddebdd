"""The cached node image: its shape, its hash, the cache's bookkeeping (root only)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lab import image_recipe
from lab.errors import PreflightError
from lab.image import Image, build_image, ensure_image, image_hash, list_images, prune_images
from tests.lab.conftest import SERVICE_PACKAGES, require_root


def test_the_image_is_cached_by_content(node_image):
    """A second ensure_image is the same build; the hash ignores order and duplicates."""
    again = ensure_image(list(reversed(SERVICE_PACKAGES)) + SERVICE_PACKAGES[:2])
    assert again.path == node_image.path
    assert again.manifest["built_at"] == node_image.manifest["built_at"]
    assert image_hash(["a", "b"]) == image_hash(["b", "a", "a"]) != image_hash(["a"])
    assert image_hash(["a"], suite="trixie") != image_hash(["a"])


def test_manifest_records_the_build(node_image):
    """hash, suite, packages, time, size, and every dpkg package with its version."""
    m = node_image.manifest
    assert m["hash"] == node_image.hash == node_image.path.name
    assert m["suite"] == "bookworm" and m["packages"] == sorted(SERVICE_PACKAGES)
    assert m["build_seconds"] > 0 and m["size_bytes"] > 100 * 2**20
    installed = m["packages_installed"]
    assert set(SERVICE_PACKAGES + image_recipe.BASELINE) <= set(installed)
    assert installed["keystone"]  # a version string
    assert "mariadb.service" in m["disabled_units"]


def test_rootfs_is_shaped_for_container_boot(node_image):
    """Nothing starts by itself, identity is per node, the journal persists."""
    root = node_image.rootfs
    assert (root / "usr/bin/python3").exists()
    assert not (root / "usr/sbin/policy-rc.d").exists()
    assert (root / "etc/machine-id").read_text() == ""
    assert os.readlink(root / "var/lib/dbus/machine-id") == "/etc/machine-id"
    assert not (root / "etc/hostname").exists()
    assert (root / "var/log/journal").is_dir()
    assert not list((root / "etc/ssh").glob("ssh_host_*"))
    wants = [p.name for p in (root / "etc/systemd/system").glob("*.wants/*")]
    assert set(wants) <= image_recipe.KEEP_ENABLED
    for unit in image_recipe.MASKED_UNITS:
        assert os.readlink(root / "etc/systemd/system" / unit) == "/dev/null"


def _fake_image(cache: Path, name: str) -> Path:
    """An image directory with just a manifest (enough for the cache's bookkeeping)."""
    path = cache / name
    (path / "rootfs").mkdir(parents=True)
    manifest = {"hash": name, "built_at": f"2024-01-0{len(list(cache.iterdir()))}"}
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path


def test_list_and_prune_keep_what_is_asked(tmp_path):
    """Temp builds of dead processes are no images and get swept; keep is kept."""
    require_root()
    _fake_image(tmp_path, "aaaa")
    _fake_image(tmp_path, "bbbb")
    stale = tmp_path / ".tmp-cccc-999999999"
    (stale / "rootfs").mkdir(parents=True)
    (stale / "manifest.json").write_text('{"hash": "cccc"}')
    assert [i.hash for i in list_images(tmp_path)] == ["bbbb", "aaaa"]
    assert prune_images({"aaaa"}, tmp_path) == ["bbbb"]
    assert [i.hash for i in list_images(tmp_path)] == ["aaaa"]
    assert not stale.exists()
    assert Image.load(tmp_path / "aaaa").rootfs == tmp_path / "aaaa" / "rootfs"


def test_missing_debootstrap_names_the_package(tmp_path, monkeypatch):
    """The error says which Debian package to install."""
    require_root()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PreflightError, match="apt-get install -y debootstrap"):
        build_image(["x"], cache_dir=tmp_path)
