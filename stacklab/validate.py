"""Load a scenario or lab file, validate it completely and report every problem at once.

>>> r = validate_file("does/not/exist.yaml")
>>> r.ok, r.messages
(False, ['does/not/exist.yaml: cannot read: No such file or directory'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from deployer.model import Cloud
from deployer.public_cert import check_public_cert, resolve
from deployer.validate import check_cloud
from lab.model import Topology, check_topology
from lab.problems import Problem, allowed, errors_only
from stacklab.errors import describe, problems_from
from stacklab.refs import check_steps
from stacklab.scenario import LabFile, Scenario, Step
from stacklab.yamlsrc import Document, YamlError, load

REPO_LABS = FsPath(__file__).resolve().parents[1] / "scenarios" / "labs"
MAX_MESSAGES = 50  # a file with 5000 unknown keys gets a screenful, not 5000 lines


@dataclass
class Result:
    """What validating one file gave: the model when valid, and every message."""

    file: str
    model: LabFile | Scenario | None = None
    topology: Topology | None = None
    cloud: Cloud | None = None
    messages: list[str] = field(default_factory=list)
    ok: bool = False


def validate_file(path: str | FsPath) -> Result:
    result = Result(str(path))
    try:
        doc = load(path)
    except YamlError as e:
        result.messages = capped(e.messages)
        return result
    problems = _validate_doc(doc, result)
    messages = result.messages + render(doc, problems)
    result.ok = not errors_only(problems) and not _has_errors(messages)
    result.messages = capped(messages)
    if not result.ok:
        result.model = result.topology = result.cloud = None
    return result


def capped(messages: list[str]) -> list[str]:
    """The first MAX_MESSAGES messages, made printable, and a last line saying how many
    more there are. A name like ``"\\e[2J"`` (YAML escapes reach the messages that quote
    it) must not drive the user's terminal.

    >>> capped([f"f.yaml:{i}: x: bad" for i in range(1, 60)])[-1]
    'f.yaml:51: ... and 9 more problems not shown; fix the ones above first'
    >>> capped(["f.yaml:1: name: 'a\\x1b[2J' is not a valid name"])
    ["f.yaml:1: name: 'a\\\\x1b[2J' is not a valid name"]
    """
    messages = [printable(m) for m in messages]
    if len(messages) <= MAX_MESSAGES:
        return messages
    where = messages[MAX_MESSAGES].split(": ", 1)[0]
    hidden = len(messages) - MAX_MESSAGES
    return [*messages[:MAX_MESSAGES], f"{where}: ... and {hidden} more problems not shown; fix the ones above first"]


def printable(text: str) -> str:
    """``text`` with control characters (NUL, ESC, ...) written as Python escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _has_errors(messages: list[str]) -> bool:
    return any(": warning: " not in m for m in messages)


def render(doc: Document, problems: list[Problem]) -> list[str]:
    """``FILE:LINE: path: message`` lines, in file order, without repeats."""
    rows = sorted({(doc.line_of(p.path), p.dotted(), p.warning, p.message) for p in problems})
    return [f"{doc.file}:{line}: {where}: {'warning: ' if warn else ''}{msg}" for line, where, warn, msg in rows]


def _validate_doc(doc: Document, result: Result) -> list[Problem]:
    if not isinstance(doc.data, dict):
        what = "the file is empty" if doc.data is None else f"got {describe(doc.data)}"
        return [Problem((), f"expected a mapping with name, topology/lab, ...; {what}")]
    is_scenario = "steps" in doc.data or "lab" in doc.data
    root: type[BaseModel] = Scenario if is_scenario else LabFile
    try:
        model = root.model_validate(doc.data)
    except ValidationError as e:
        problems = problems_from(e, root)
        if root is Scenario:  # the steps that are well-formed still get their reference checks
            problems += _refs_of_valid_steps(doc, result)
        return problems
    folder = FsPath(doc.file).parent
    if isinstance(model, LabFile):
        model = model.model_copy(update={"cloud": resolve(model.cloud, folder)})
        result.model = model
        result.topology, result.cloud = model.topology, model.cloud
        return _check_lab(model.topology, model.cloud)
    assert isinstance(model, Scenario)
    result.model = model
    return _check_scenario(model, doc, result)


def _check_lab(topo: Topology, cloud: Cloud) -> list[Problem]:
    problems = [p.under(("topology",)) for p in check_topology(topo)]
    return problems if errors_only(problems) else problems + check_cloud(topo, cloud) + _public_cert(topo, cloud)


def _public_cert(topo: Topology, cloud: Cloud) -> list[Problem]:
    """The operator's certificate for the VIP (paths already absolute: ``resolve``)."""
    vip = topo.vips.get(cloud.vip)
    return [] if vip is None else check_public_cert(cloud.tls, FsPath("/"), str(vip.address))


def _check_scenario(scn: Scenario, doc: Document, result: Result,
                    known_ids: set[str] | None = None) -> list[Problem]:
    if scn.lab is not None:
        if scn.topology is not None:
            return [Problem(("lab",), "give either 'lab' (+ a 'cloud' variant) or an inline 'topology' "
                            "(+ 'cloud'), not both")]
        lab = _load_lab(scn.lab, doc, result)
        if lab is None:
            return []  # _load_lab already explained why
        result.topology, result.cloud = lab.topology, lab.cloud
        if scn.cloud is not None:  # a variant: the scenario's keys over the lab's cloud
            result.cloud, problems = cloud_variant(lab.cloud, resolve(scn.cloud, FsPath(doc.file).parent))
            problems += [] if errors_only(problems) else (check_cloud(result.topology, result.cloud)
                                                           + _public_cert(result.topology, result.cloud))
            if errors_only(problems):
                return [p.under(("cloud",)) for p in problems]
    elif scn.topology is None:
        return [Problem((), "missing 'lab' (a file in labs/) or an inline 'topology'")]
    else:
        result.topology, result.cloud = scn.topology, resolve(scn.cloud or Cloud(), FsPath(doc.file).parent)
        problems = _check_lab(result.topology, result.cloud)
        if errors_only(problems):
            return problems
    return check_steps(scn, result.topology, known_ids) + _tenant_refs(scn, result.cloud)


def _tenant_refs(scn: Scenario, cloud: Cloud | None) -> list[Problem]:
    """A tenant fault (``deployer.tenant_faults``) names a load balancer or instance the cloud declares."""
    tenant = cloud.tenant if cloud is not None else Cloud().tenant
    known = {"load_balancer": {b.name for b in tenant.load_balancers}, "instance": {i.name for i in tenant.instances}}
    problems = []
    for i, step in enumerate(scn.steps):
        fault = getattr(step, "fault", None)
        for key, names in known.items():
            value = getattr(fault, key, None)
            if value is not None and value not in names:
                what = key.replace("_", " ")
                problems.append(Problem(("steps", i, "fault", key), f"unknown {what} '{value}'; " +
                                        (allowed(names) if names else f"the lab's cloud declares no {what}")))
    return problems


def _refs_of_valid_steps(doc: Document, result: Result) -> list[Problem]:
    """Reference problems (nodes, networks, fault ids, metrics...) of the steps that passed the
    schema, in a scenario where others did not: all problems in one pass. Fault ids of the
    broken steps count as known, so a later ``heal`` naming one is not reported twice."""
    assert isinstance(doc.data, dict)
    raw = doc.data.get("steps")
    if not isinstance(raw, list):
        return []
    adapter: TypeAdapter[Any] = TypeAdapter(Step)
    kept: list[int] = []
    broken_ids: set[str] = set()
    for i, step in enumerate(raw):
        try:
            adapter.validate_python(step)
            kept.append(i)
        except ValidationError:
            fault = step.get("fault") if isinstance(step, dict) else None
            if isinstance(fault, dict) and isinstance(fault.get("id"), str):
                broken_ids.add(fault["id"])
    try:
        scn = Scenario.model_validate({**doc.data, "steps": [raw[i] for i in kept]})
    except ValidationError:
        return []  # the header itself is broken: its errors are already reported
    problems = _check_scenario(scn, doc, result, known_ids=broken_ids)
    return [Problem(("steps", kept[p.path[1]], *p.path[2:]), p.message, p.warning)  # type: ignore[index]
            if p.path[:1] == ("steps",) and len(p.path) > 1 else p for p in problems]


def cloud_variant(base: Cloud, patch: Cloud) -> tuple[Cloud, list[Problem]]:
    """``base`` with the keys a scenario set in its ``cloud:`` (nested mappings merged, other
    values replaced), validated as a whole; the problems have paths inside ``cloud``.

    >>> lab = Cloud.model_validate({"rabbitmq": {"queue_type": "classic"}})
    >>> cloud, _ = cloud_variant(lab, Cloud.model_validate({"rabbitmq": {"partition_handling": "ignore"}}))
    >>> cloud.rabbitmq.queue_type, cloud.rabbitmq.partition_handling
    ('classic', 'ignore')
    """
    merged = _merge(base.model_dump(mode="json"), patch.model_dump(mode="json", exclude_unset=True))
    try:
        return Cloud.model_validate(merged), []
    except ValidationError as e:
        return base, problems_from(e, Cloud)


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def lab_search_path(scenario: FsPath) -> list[FsPath]:
    """Where ``lab: NAME`` is looked up: beside the scenario, then the project's labs."""
    here = scenario.resolve().parent
    dirs = [here / "labs", here, REPO_LABS]
    return list(dict.fromkeys(dirs))


def _load_lab(name: str, doc: Document, result: Result) -> LabFile | None:
    scenario, where = FsPath(doc.file), f"{doc.file}:{doc.line_of(('lab',))}: lab"
    for folder in lab_search_path(scenario):
        candidate = folder / f"{name}.yaml"
        if candidate.is_file() and candidate.resolve() != scenario.resolve():
            sub = validate_file(_relative(candidate))
            result.messages += sub.messages
            if not sub.ok or not isinstance(sub.model, LabFile):
                result.messages.append(f"{where}: lab '{name}' is invalid (see above)")
                return None
            return sub.model
    known = sorted({p.stem for d in lab_search_path(scenario) if d.is_dir() for p in d.glob("*.yaml")
                    if p.resolve() != scenario.resolve() and d.name == "labs"})
    result.messages.append(f"{where}: no lab file '{name}.yaml' found; labs: {', '.join(known) or 'none'}")
    return None


def _relative(path: FsPath) -> FsPath:
    try:
        return path.resolve().relative_to(FsPath.cwd())
    except ValueError:
        return path
