"""stacklab's pytest plugin (entry point ``pytest11``).

- registers the ``lab://`` testinfra backend before pytest parses ``--hosts``;
- collects scenario files as tests (``pytest scenarios/controller-failover.yaml``).
"""

from __future__ import annotations

from checks.infra import labhost
from stacklab.runner.plugin import (  # noqa: F401 - pytest finds hooks as module attributes
    pytest_addoption,
    pytest_collect_file,
    pytest_runtest_teardown,
)

labhost.register()
