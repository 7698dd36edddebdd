"""Golden rendered configs: one comparison shared by every template test module.

Set STACKLAB_UPDATE_GOLDEN=1 to (re)write the golden files, then review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jinja2
import pytest

from deployer.context import TEMPLATES, render

RENDERED = Path(__file__).parent / "data" / "rendered"
UPDATE = os.environ.get("STACKLAB_UPDATE_GOLDEN") == "1"


def assert_golden(name: str, template: str, values: dict[str, Any]) -> None:
    text = render(template, **values)
    golden = RENDERED / name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden}: run with STACKLAB_UPDATE_GOLDEN=1 and review it"
    assert text == golden.read_text()


def assert_strict(template: str) -> None:
    """StrictUndefined: a value the code forgets to pass is an error, not an empty string."""
    with pytest.raises(jinja2.UndefinedError):
        render(template)


def assert_no_literal_secrets(templates: list[str]) -> None:
    """Passwords reach configs only as values (ctx.secrets), never as literals: the
    example values in the tests say EXAMPLE, and no template may."""
    for template in templates:
        assert "EXAMPLE" not in (TEMPLATES / template).read_text(), template


Cases = dict[str, tuple[str, dict[str, Any]]]  # golden file name -> (template, values)


def template_tests(cases: Cases) -> type:
    """The tests every table of template cases gets; assign the class to a ``Test*`` name."""

    class TemplateCases:
        @pytest.mark.parametrize("name", sorted(cases))
        def test_renders_its_golden_file(self, name: str) -> None:
            assert_golden(name, *cases[name])

        @pytest.mark.parametrize("name", sorted(n for n in cases if cases[n][1]))
        def test_refuses_missing_values(self, name: str) -> None:
            assert_strict(cases[name][0])

        def test_secrets_are_not_in_templates(self) -> None:
            assert_no_literal_secrets([template for template, _ in cases.values()])

    return TemplateCases
