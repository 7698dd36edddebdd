"""YAML with line numbers: every value remembers where it was written.

PyYAML's composer gives nodes with marks; we build plain Python data from them and
keep a side table ``path -> line`` so any error, from the schema or a semantic check,
can say ``FILE:LINE``. Duplicate keys are errors here (PyYAML silently keeps the last).

>>> doc = parse("a:\\n  b: [1, 2]\\n", "x.yaml")
>>> doc.data, doc.line_of(("a", "b", 1))
({'a': {'b': [1, 2]}}, 2)

Scenario and lab files come from users and stacklab runs as root, so loading is
bounded before anything is built: the file's size is checked before it is read (and
the read itself stops one byte past the limit), aliases and anchors are refused (a
few hundred bytes of nested aliases otherwise expand to gigabytes: "billion laughs"),
and the composer counts nodes, depth and scalar length as it goes, so a hostile file
is rejected after a bounded amount of work, with ``FILE:LINE: yaml: ...``.

>>> try:
...     parse("a: &x 1\\nb: *x\\n", "x.yaml")
... except YamlError as e:
...     print(e)
x.yaml:1: yaml: anchors (&x) are not allowed in stacklab files; write the value out
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from lab.problems import Path

#: Bounds on a scenario or lab file. The largest shipped file has 1.6 KB, 112 values,
#: depth 7; a lab at the model's own bounds (64 nodes, 8 networks) has ≈ 250 values.
#: PyYAML's pure-Python parser needs ≈ 0.1 ms per value, so 2000 values keep even a
#: refused file well under a second on a busy machine.
MAX_BYTES = 256 * 1024
MAX_NODES = 2000
MAX_DEPTH = 24
MAX_SCALAR = 4096  # characters; also keeps every error message quoting a value short
MAX_INT_BITS = 64  # 0x + 4000 hex digits is a valid YAML int that Python cannot even print
_BOMS = {b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32",
         b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16"}


class YamlError(Exception):
    """A file that is not readable YAML; ``messages`` are ready to print."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


class LimitError(yaml.MarkedYAMLError):
    """A bound of this module was hit; reported like any other YAML error."""


@dataclass
class Document:
    file: str
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int:
        """Line of ``path``, or of its nearest ancestor that was written (missing keys)."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return 1


def load(path: str | FsPath) -> Document:
    """Read (bounded) and parse a YAML file; raise YamlError with FILE:LINE messages."""
    name = str(path)
    try:
        raw = read_bounded(path, name)
    except OSError as e:
        raise YamlError([f"{name}: cannot read: {e.strerror or e}"]) from None
    return parse(decode(raw, name), name)


def read_bounded(path: str | FsPath, name: str) -> bytes:
    """The bytes of a regular file of at most MAX_BYTES (a FIFO or device would block or
    never end): the size is checked from stat before reading, and the read itself stops
    one byte past the limit (a file that grows, or lies about its size)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(0, "not a regular file")
        raw = f.read(MAX_BYTES + 1) if info.st_size <= MAX_BYTES else b""
    if info.st_size > MAX_BYTES or len(raw) > MAX_BYTES:
        raise YamlError([f"{name}:1: yaml: the file is larger than {MAX_BYTES // 1024} KiB, "
                         "the limit for scenario and lab files"])
    return raw


def decode(raw: bytes, name: str) -> str:
    """UTF-8 text of ``raw``, or YamlError saying at which line it is not."""
    for bom, encoding in _BOMS.items():
        if raw.startswith(bom):
            raise YamlError([f"{name}:1: yaml: the file is {encoding} text; save it as UTF-8"])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise YamlError([f"{name}:{line}: yaml: not UTF-8 text (byte {e.start} is {raw[e.start]:#04x}); "
                         "save the file as UTF-8"]) from None


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer refuses aliases and anchors and counts what it builds."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.node_count = 0
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        self.node_count += 1
        problem = self._refusal(event)
        if problem:
            mark: Any = event.start_mark
            raise LimitError(problem=problem, problem_mark=mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def fetch_flow_collection_start(self, token_class: Any) -> None:
        """Refuse deep ``[[[[...`` in the scanner already: it looks ahead for a possible
        key over every open bracket, quadratic in the depth before the composer sees one."""
        if self.flow_level >= MAX_DEPTH:
            mark: Any = self.get_mark()
            raise LimitError(problem=f"nested more than {MAX_DEPTH} levels deep", problem_mark=mark)
        super().fetch_flow_collection_start(token_class)  # type: ignore[misc]

    def _refusal(self, event: Any) -> str | None:
        """Why the next node may not be composed, or None."""
        if isinstance(event, AliasEvent):
            return f"aliases (*{event.anchor}) are not allowed in stacklab files; write the value out"
        if getattr(event, "anchor", None) is not None:
            return f"anchors (&{event.anchor}) are not allowed in stacklab files; write the value out"
        if getattr(event, "tag", None) not in (None, "!"):  # !!python/object, !!binary, ...
            tag = event.tag.replace("tag:yaml.org,2002:", "!!")
            return f"explicit tags ({tag}) are not allowed in stacklab files; write plain values"
        if self.node_count > MAX_NODES:
            return f"more than {MAX_NODES} values in one file; that is not a lab or scenario"
        if isinstance(event, ScalarEvent) and len(event.value) > MAX_SCALAR:
            return f"a value of {len(event.value)} characters; at most {MAX_SCALAR} are allowed"
        if isinstance(event, CollectionStartEvent) and self.depth >= MAX_DEPTH:
            return f"nested more than {MAX_DEPTH} levels deep"
        return None


def parse(text: str, name: str) -> Document:
    try:
        loader = BoundedLoader(text)  # the reader refuses control characters here, at once
    except yaml.reader.ReaderError as e:
        line = text[:e.position].count("\n") + 1
        raise YamlError([f"{name}:{line}: yaml: control character #x{e.character:04x} "
                         f"({'NUL' if e.character == 0 else 'non-printable'}); is this a text file?"]) from None
    try:
        root = loader.get_single_node()
        doc = Document(name, None)
        errors: list[str] = []
        doc.data = _build(loader, root, (), doc, errors) if root is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlError([f"{name}:{line}: yaml: {_yaml_message(e)}"]) from None
    except yaml.YAMLError as e:  # unmarked errors are rare (encoding); still no traceback
        raise YamlError([f"{name}:1: yaml: {e}"]) from None
    finally:
        loader.dispose()
    if errors:
        raise YamlError(errors)
    return doc


def _yaml_message(e: yaml.MarkedYAMLError) -> str:
    problem = e.problem or "invalid YAML"
    if "'\\t'" in problem or "\\t" in problem:
        return "a tab character; YAML indents with spaces only"
    if "expected <block end>" in problem:
        return "bad indentation: this line does not line up with the keys before it"
    if "'<stream end>'" in problem:
        return "the file ends inside an unclosed '[', '{' or quote"
    if "mapping values are not allowed here" in problem:
        return "a ':' where no key can start (bad indentation, or a value with ': ' that needs quotes)"
    parts = [p for p in (e.context, problem) if p]
    return ", ".join(parts)


def _build(loader: yaml.SafeLoader, node: Node, path: Path, doc: Document, errors: list[str]) -> Any:
    doc.lines[path] = node.start_mark.line + 1
    if isinstance(node, ScalarNode):
        return _scalar(loader, node)
    if isinstance(node, SequenceNode):
        return [_build(loader, item, path + (i,), doc, errors) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(loader, key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str | int):
                errors.append(f"{doc.file}:{key_node.start_mark.line + 1}: yaml: keys must be plain scalars")
                continue
            if key in out:
                errors.append(f"{doc.file}:{key_node.start_mark.line + 1}: yaml: duplicate key '{key}' "
                              f"(first at line {doc.lines[path + (key,)]})")
                continue
            # The key's line is the one users look at for a mapping value.
            doc.lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _build_value(loader, value_node, path + (key,), doc, errors, key_node)
        return out
    raise yaml.YAMLError(f"unsupported node {node!r}")  # pragma: no cover - composer yields only these


def _build_value(loader: yaml.SafeLoader, node: Node, path: Path, doc: Document, errors: list[str],
                 key_node: Node) -> Any:
    value = _build(loader, node, path, doc, errors)
    doc.lines[path] = key_node.start_mark.line + 1
    return value


def _scalar(loader: yaml.SafeLoader, node: ScalarNode) -> Any:
    """The Python value of a scalar; the constructors' own ValueErrors (a date like
    ``2024-13-45``, an integer past Python's digit limit) become marked YAML errors."""
    mark: Any = node.start_mark
    try:
        value = loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as e:
        raise LimitError(problem=f"cannot read the value {node.value[:40]!r}: {e}", problem_mark=mark) from None
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise LimitError(problem=f"the integer {node.value[:20]}... has more than {MAX_INT_BITS} bits",
                         problem_mark=mark)
    return value
