"""How a probe's raw samples are drawn in a run's report, declared once by whoever
produces them (a probe family in ``checks.metrics``, a load in ``stacklab.runner.loads``).

A panel picks the lines of one source whose ``k`` is ``kind`` (``""``: every sample
line, i.e. every line with a ``t`` and no ``ev``) and draws them in one of four styles:

- ``outcome``: each sample at its send time ``t``, its latency ``lat`` on the y axis,
  failed ones (``ok`` false) in red (a prober, a request stream);
- ``rate``: successes and failures per second (writes, publishes, load requests);
- ``state``: the value of ``field`` over time as steps (a VIP holder, a health state);
  the source's ``labels[field]`` may name the values (a MAC -> the node owning it);
- ``value``: the number in ``field`` over time (degraded PGs, queue depth).

The declarations are written into ``result.json`` with the samples, so a run directory
renders the same whatever code reads it later (``stacklab.report``).

>>> Panel("VIP holder", "arp", "state", field="mac").to_json()["style"]
'state'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

STYLES = ("outcome", "rate", "state", "value")


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # the samples' "k"; "" for every sample line
    style: str  # one of STYLES
    field: str = ""  # state/value: the sample field drawn
    unit: str = "s"  # outcome: latency unit; value: the field's unit

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"panel '{self.title}': style '{self.style}'; allowed: {', '.join(STYLES)}")
        if self.style in ("state", "value") and not self.field:
            raise ValueError(f"panel '{self.title}': a {self.style} panel names the field it draws")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Panel:
        return cls(**{k: data[k] for k in ("title", "kind", "style", "field", "unit") if k in data})

    def picks(self, line: dict[str, Any]) -> bool:
        """Whether a raw line is one of this panel's samples.

        >>> Panel("x", "tcp", "outcome").picks({"k": "tcp", "t": 1.0, "ok": True})
        True
        >>> Panel("x", "", "rate").picks({"ev": "start", "t": 1.0})
        False
        """
        if "ev" in line or "t" not in line:
            return False
        return not self.kind or line.get("k") == self.kind
