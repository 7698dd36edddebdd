"""Building blocks shared by every stacklab model: strict base, names, addresses, durations.

All models are strict (``extra="forbid"``, no silent type coercion) because a typo
in a scenario file must be an error, never a default quietly taking its place.

>>> parse_duration("1m30s")
90.0
>>> parse_duration("250ms")
0.25
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict


class StrictModel(BaseModel):
    """Base of every model read from YAML: unknown keys and loose types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


_NAME = re.compile(r"^[a-z](?:[a-z0-9-]*[a-z0-9])?$")
_GROUP = re.compile(r"^[a-z](?:[a-z0-9-]*[a-z])?$")


def _name_checker(max_len: int, pattern: re.Pattern[str], hint: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value) or len(value) > max_len:
            raise ValueError(f"'{value}' is not a valid name: {hint}, at most {max_len} characters")
        return value

    return AfterValidator(check)


# Names end up in interface, namespace and container names (15-character kernel limit),
# which is why they are short and lower-case.
Name = Annotated[str, _name_checker(32, _NAME, "lower-case letters, digits and '-', starting with a letter")]
NetName = Annotated[str, _name_checker(8, _NAME, "lower-case letters and digits, starting with a letter")]
GroupName = Annotated[
    str, _name_checker(6, _GROUP, "lower-case letters, ending with a letter (nodes get an index: ctl -> ctl1)")
]
LabName = Annotated[str, _name_checker(16, _NAME, "lower-case letters, digits and '-', starting with a letter")]


def _ip_parser(kind: str, factory: Any, example: str) -> BeforeValidator:
    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected an {kind} as a string (e.g. {example}), got {type(value).__name__}")
        try:
            return factory(value)
        except ValueError:
            raise ValueError(f"'{value}' is not an {kind} (e.g. {example})") from None

    return BeforeValidator(parse)


IPv4Net = Annotated[ipaddress.IPv4Network, _ip_parser("IPv4 network", ipaddress.IPv4Network, "10.0.0.0/24")]
IPv4Addr = Annotated[ipaddress.IPv4Address, _ip_parser("IPv4 address", ipaddress.IPv4Address, "10.0.0.5")]

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$")


def parse_duration(value: Any) -> float:
    """Seconds from ``10``, ``2.5``, ``"10s"``, ``"500ms"``, ``"1m30s"`` or ``"1h"``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 10s, 500ms or 1m30s, got {value}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip() and (m := _DURATION.match(value.strip())):
        h, mi, s, ms = (float(g) if g else 0.0 for g in m.groups())
        seconds = h * 3600 + mi * 60 + s + ms / 1000
    else:
        raise ValueError(f"'{value}' is not a duration; write it like 10s, 500ms or 1m30s")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value}")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
