"""YAML with line numbers: every value remembers where it was written.

PyYAML's composer gives nodes with marks; we build plain Python data from them and
keep a side table ``path -> line`` so any error, from the schema or a semantic check,
can say ``FILE:LINE``. Duplicate keys are errors here (PyYAML silently keeps the last).

>>> doc = parse("a:\\n  b: [1, 2]\\n", "x.yaml")
>>> doc.data, doc.line_of(("a", "b", 1))
({'a': {'b': [1, 2]}}, 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from lab.problems import Path


class YamlError(Exception):
    """A file that is not readable YAML; ``messages`` are ready to print."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


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
    """Read and parse a YAML file; raise YamlError with FILE:LINE messages."""
    name = str(path)
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise YamlError([f"{name}: cannot read: not UTF-8 text (byte {e.start})"]) from None
    except OSError as e:
        raise YamlError([f"{name}: cannot read: {e.strerror or e}"]) from None
    return parse(text, name)


def parse(text: str, name: str) -> Document:
    loader = yaml.SafeLoader(text)
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
        return loader.construct_object(node, deep=True)
    if isinstance(node, SequenceNode):
        return [_build(loader, item, path + (i,), doc, errors) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
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
