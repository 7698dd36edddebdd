"""stacklab's pytest plugin (entry point ``pytest11``): registers the ``lab://``
testinfra backend before pytest parses ``--hosts``."""

from __future__ import annotations

from checks.infra import labhost

labhost.register()
