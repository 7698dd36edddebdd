"""``stacklab fault``: apply a lab or service fault to a running lab, or heal them all.

The actions are the scenario's (``lab.faultspec`` and ``deployer.service_faults``), with
the same parameter models, so a fault tried by hand is the fault a scenario applies.
"""

from __future__ import annotations

import argparse
import random
import sys
from typing import Any

from pydantic import ValidationError

from checks import cluster
from checks.infra.base import open_lab
from deployer import service_faults
from lab import engine, faults
from lab.errors import UsageError
from lab.faultspec import LAB_FAULTS
from lab.problems import dotted
from stacklab import yamlsrc
from stacklab.cli_lab import need_root, say
from stacklab.errors import problems_from


def cmd_fault(args: argparse.Namespace) -> int:
    need_root("fault")
    params = {} if args.action == "heal" else fault_params(args.action, list(args.params))
    lab = engine.require(args.lab).lab
    if args.action == "heal":
        undone = faults.heal(lab)
        say(f"lab {lab}: healed {len(undone)} fault(s)")
        return 0
    model = LAB_FAULTS.get(args.action) or service_faults.MODELS[args.action]
    try:
        spec = model.model_validate(params)
    except ValidationError as e:
        for p in problems_from(e, model):
            print(f"stacklab fault {args.action}: {dotted(p.path)}: {p.message}", file=sys.stderr)
        return 2
    for one in _concrete(lab, spec):
        for note in faults.apply(lab, one):
            say(f"lab {lab}: {note}")
    say(f"lab {lab}: {args.action} applied ({', '.join(f'{k}={v}' for k, v in params.items() if k != 'action')})")
    return 0


def fault_params(action: str, rest: list[str]) -> dict[str, Any]:
    """``[NODE] KEY=VALUE...`` as the fault's parameters; each VALUE is YAML read with the
    bounds of a scenario file (no aliases: ``groups='[&a [...], *a, ...]'`` would otherwise
    expand past any memory while being validated).

    >>> fault_params("partition", ["groups=[[ctl1], [ctl2, ctl3]]"])
    {'action': 'partition', 'groups': [['ctl1'], ['ctl2', 'ctl3']]}
    """
    params: dict[str, Any] = {"action": action}
    if rest and "=" not in rest[0]:
        params["node"] = rest.pop(0)
    for item in rest:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"expected KEY=VALUE, got '{item}'")
        try:
            params[key] = yamlsrc.parse(value, key).data
        except yamlsrc.YamlError as e:
            raise UsageError(f"{key}=: {e.messages[0].split(': ', 1)[1]}") from None
    return params


def _concrete(lab: str, spec: Any) -> list[Any]:
    """The fault once per node its selector names (``ctl1``, ``role:compute``, and on a
    deployed lab ``@vip_holder``/``@galera_primary``/``@random``); a partition's groups
    resolved the same way."""
    nodes = {n: tuple(info["roles"]) for n, info in engine.require(lab).nodes.items()}

    def names(text: str) -> list[str]:
        sel = cluster.parse_selector(text, nodes)
        return cluster.expand(sel, nodes, ask=lambda name: cluster.DYNAMIC[name][1](open_lab(lab).inv, random.Random()))

    if hasattr(spec, "groups"):
        return [spec.model_copy(update={"groups": [[n for sel in g for n in names(sel)] for g in spec.groups]})]
    return [spec.model_copy(update={"node": node}) for node in names(spec.node)]


def add_commands(sub: Any) -> None:
    p = sub.add_parser("fault", help="apply a lab fault, or heal all of them",
                       description="Examples: fault power_off ctl1 | fault link_loss cmp1 network=overlay "
                       "percent=30 | fault partition groups='[[ctl1],[ctl2,ctl3]]' | "
                       "fault stop_service @vip_holder service=keystone | fault power_off role:compute | "
                       "fault clock_skew ctl1 offset=+2h services=[keystone] | fault heal")
    p.add_argument("--lab", help="lab name (may be omitted when one lab is up)")
    actions = [*sorted({*LAB_FAULTS, *service_faults.MODELS}), "heal"]
    p.add_argument("action", choices=actions, metavar="ACTION", help=f"one of: {', '.join(actions)}")
    p.add_argument("params", nargs="*", metavar="[NODE] KEY=VALUE")
    p.set_defaults(func=cmd_fault)
