""""Did you mean" for a mistyped name (a scenario, lab, check, node, fault).

>>> did_you_mean("controler-failover", ["controller-failover", "haproxy-backend-down"])
" (did you mean 'controller-failover'?)"
>>> did_you_mean("zzz", ["controller-failover"])
''
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=2, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
