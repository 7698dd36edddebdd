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
        if not pattern.fullmatch(value) or len(value) > max_len:  # fullmatch: "$" allows a final "\n"
            raise ValueError(f"'{value}' is not a valid name: {hint}, at most {max_len} characters")
        return value

    return AfterValidator(check)


# Names end up in interface, namespace, container and directory names, which is why they
# are short, lower-case and never hold '.', '/' or '..': no path can escape, and
# ``sl-<lab>.<node>`` maps back to exactly one lab and node. Node names are the group
# plus an index of up to 2 digits; the kernel's 15-character interface names are not
# the bound any more (lab.ifnames hashes long fabric port names), the 16 characters
# keep hostnames, ``ip netns`` and ``lxc-ls`` readable.
MAX_GROUP = 16
Name = Annotated[str, _name_checker(32, _NAME, "lower-case letters, digits and '-', starting with a letter")]
NetName = Annotated[str, _name_checker(8, _NAME, "lower-case letters and digits, starting with a letter")]
GroupName = Annotated[
    str, _name_checker(MAX_GROUP, _GROUP,
                       "lower-case letters, digits and '-', ending with a letter (nodes get an index: ctl -> ctl1)")
]
_LAB_HINT = "lower-case letters, digits and '-', starting with a letter"
LabName = Annotated[str, _name_checker(32, _NAME, _LAB_HINT)]


def check_lab_name(value: str) -> str:
    """``value`` if it is a valid lab name, else ValueError saying why (no path, no dot).

    >>> check_lab_name("../etc")
    Traceback (most recent call last):
    ValueError: '../etc' is not a valid lab name: lower-case letters, digits and '-', starting with a letter, \
at most 32 characters
    """
    if not isinstance(value, str) or not _NAME.fullmatch(value) or len(value) > 32:
        raise ValueError(f"{value!r} is not a valid lab name: {_LAB_HINT}, at most 32 characters")
    return value


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
