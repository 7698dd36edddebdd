"""Turn pydantic's validation errors into stacklab problems a person can act on.

Pydantic locates an error by a tuple that also names union members; we drop those
(our tags are written ``<name>``), translate the error type into a short sentence
and, for enums and unknown keys, list what is allowed.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from lab.problems import Path, Problem, allowed

_YAML_TYPES = {"str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean",
               "list": "a list", "dict": "a mapping", "NoneType": "nothing (null)"}
_EXPECTED = {"int_type": "an integer", "float_type": "a number", "string_type": "a string",
             "bool_type": "true or false", "list_type": "a list", "dict_type": "a mapping",
             "model_type": "a mapping", "model_attributes_type": "a mapping"}
_BOUNDS = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"),
           "less_than_equal": ("<=", "le"), "less_than": ("<", "lt")}


def describe(value: Any) -> str:
    """``a string '3'``: what the user wrote, in YAML words."""
    kind = _YAML_TYPES.get(type(value).__name__, type(value).__name__)
    if isinstance(value, dict | list):
        return kind
    return f"{kind} {value!r}" if value is not None else kind


def problems_from(error: ValidationError, root: type[BaseModel]) -> list[Problem]:
    return [_problem(e, root) for e in error.errors(include_url=False)]


def _problem(err: ErrorDetails, root: type[BaseModel]) -> Problem:
    raw = tuple(err["loc"])
    path: Path = tuple(p for p in raw if not (isinstance(p, str) and p.startswith("<")))
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if path and path[-1] == "[key]":  # a bad dict key: pydantic appends this marker
        path = path[:-1]
    if kind == "missing":
        return Problem(path[:-1], f"missing required key '{path[-1]}'")
    if kind == "extra_forbidden":
        keys = _allowed_keys(root, raw)
        return Problem(path, f"unknown key '{path[-1]}'" + (f"; {allowed(keys)}" if keys else ""))
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'|(\d+)", ctx.get("expected", ""))
        names = [a or b for a, b in options]
        return Problem(path, f"{value!r} is not allowed; allowed: {', '.join(names)}")
    if kind in _EXPECTED:
        return Problem(path, f"expected {_EXPECTED[kind]}, got {describe(value)}")
    if kind in _BOUNDS:
        sign, key = _BOUNDS[kind]
        return Problem(path, f"must be {sign} {ctx.get(key)}, got {value!r}")
    if kind == "too_short":
        return Problem(path, f"needs at least {ctx.get('min_length')} item(s)")
    if kind == "too_long":
        return Problem(path, f"takes at most {ctx.get('max_length')} item(s)")
    if kind == "value_error":
        return Problem(path, str(ctx.get("error", err["msg"])))
    if kind == "step_kind":
        return Problem(path, _step_kind_message(value))
    if kind == "fault_action":
        return _fault_action_problem(path, value)
    return Problem(path, err["msg"])


def _step_kind_message(value: Any) -> str:
    from stacklab.scenario import STEP_KINDS

    kinds = ", ".join(STEP_KINDS)
    if not isinstance(value, dict):
        return f"expected a step mapping like {{check: healthy}}, got {describe(value)}; a step is one of: {kinds}"
    known = [k for k in value if k in STEP_KINDS]
    if len(known) > 1:
        return f"a step has exactly one kind, found {', '.join(known)}"
    unknown = ", ".join(f"'{k}'" for k in value) or "nothing"
    return f"unknown step {unknown}; a step is one of: {kinds}"


def _fault_action_problem(path: Path, value: Any) -> Problem:
    from stacklab.scenario import FAULT_ACTIONS

    if not isinstance(value, dict):
        return Problem(path, f"expected a fault mapping with an 'action', got {describe(value)}")
    if "action" not in value:
        return Problem(path, f"missing required key 'action'; {allowed(FAULT_ACTIONS)}")
    return Problem(path + ("action",), f"unknown fault action {value['action']!r}; {allowed(FAULT_ACTIONS)}")


def _allowed_keys(root: type[BaseModel], raw: tuple[Any, ...]) -> list[str]:
    """Field names of the model holding the last element of ``raw`` (a pydantic loc)."""
    t: Any = root
    for part in raw[:-1]:
        t = _unwrap(t)
        if isinstance(part, str) and part.startswith("<"):
            t = _tagged_member(t, part)
        elif isinstance(t, type) and issubclass(t, BaseModel):
            field = t.model_fields.get(str(part))
            if field is None:
                return []
            t = field.annotation
        elif typing.get_origin(t) in (list, dict):
            t = typing.get_args(t)[-1]
        else:
            return []
    t = _unwrap(t)
    return list(t.model_fields) if isinstance(t, type) and issubclass(t, BaseModel) else []


def _unwrap(t: Any) -> Any:
    while True:
        if typing.get_origin(t) is typing.Annotated:
            t = typing.get_args(t)[0]
        elif typing.get_origin(t) in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(t) if a is not type(None)]
            if len(members) != 1:
                return t
            t = members[0]
        else:
            return t


def _tagged_member(union: Any, tag: str) -> Any:
    for member in typing.get_args(union):
        if any(getattr(m, "tag", None) == tag for m in getattr(member, "__metadata__", ())):
            return typing.get_args(member)[0]
    return None
