"""Make a small report fixture from a real run directory: ``python tests/unit/data/runs/thin.py RUN_DIR DEST``.

Keeps result.json, junit.xml and the journal logs (first 5 lines each); of the samples,
every failed sample, every ``arp`` sample, every event, and 1 in ``KEEP_EVERY`` of the rest
(the figures in result.json stay those of the whole run); the load's event log thinned the
same way; locust's CSVs are left out.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

KEEP_EVERY = 20


def thin(lines: list[str]) -> list[str]:
    out = []
    for n, line in enumerate(lines):
        d = json.loads(line)
        if "ev" in d or not d.get("ok", True) or d.get("k") == "arp" or n % KEEP_EVERY == 0:
            out.append(line)
    return out


def main(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    result = json.loads((src / "result.json").read_text())
    for name, spec in result.get("evidence", {}).get("sources", {}).items():
        lines = thin((src / spec["file"]).read_text().splitlines())
        (dest / spec["file"]).parent.mkdir(parents=True, exist_ok=True)
        (dest / spec["file"]).write_text("\n".join(lines) + "\n")
        spec["lines"] = len(lines)
        print(f"{name}: {len(lines)} lines")
    for step in result["steps"]:  # no absolute path of the machine it ran on
        for fig in step["figures"].values():
            if isinstance(fig, dict) and "results" in fig:
                fig["results"] = fig["results"].replace(str(src), ".")
    result["file"] = "scenarios/" + Path(result["file"]).name
    (dest / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    if (src / "junit.xml").is_file():
        shutil.copy(src / "junit.xml", dest / "junit.xml")
    for log in sorted((src / "logs").glob("*.log")):
        (dest / "logs").mkdir(exist_ok=True)
        (dest / "logs" / log.name).write_text("\n".join(log.read_text().splitlines()[:5]) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
