"""What every report test asserts of a page: self-contained (nothing to fetch), the
timeline's data block, and a headless Chromium screenshot kept as an artefact."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

# Anything a browser would fetch: src/href/action/poster to a non-data address, CSS url()/@import.
FETCH = re.compile(r"""(?:src|href|action|poster|srcset)\s*=\s*["']?(?!data:|#)[^"'\s>]+"""
                   r"""|url\(\s*["']?(?!data:)|@import""", re.IGNORECASE)


def assert_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    found = FETCH.findall(page)
    assert not found, f"the page would fetch: {found[:5]}"
    assert "<script src" not in page and "<link" not in page


def timeline_data(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="timeline">(.*?)</script>', page, re.DOTALL)
    assert block, "no timeline data block"
    return json.loads(block.group(1).replace("<\\/", "</"))


def screenshot(page: Path, dest: Path) -> Path:
    """Open the page in headless Chromium (Debian's ``chromium``, .ci/setup installs it) with
    the network switched off, and keep the screenshot."""
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed (bash .ci/setup installs it)"
    dest.parent.mkdir(parents=True, exist_ok=True)
    argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            # any fetch would fail: the proxy goes nowhere, and the page needs none
            "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
            f"--screenshot={dest}", "--window-size=1280,2400", page.resolve().as_uri()]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and dest.is_file() and dest.stat().st_size > 10_000, done.stderr[-2000:]
    return dest
