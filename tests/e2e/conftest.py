"""The e2e tier shares the lab tier's fixtures (unique lab names, leak check)."""

from tests.lab.conftest import lab_name, module_lab_name, no_leaks_after_session  # noqa: F401
