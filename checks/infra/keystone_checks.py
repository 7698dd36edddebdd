"""Declarations of the Keystone cache checks, whose code is in ``checks.infra.keystone``.

Declared here, not on the functions, while that module is being worked on (issue #10):
importing it costs the deployer and the lab engine, and check declarations must stay
cheap to load (``stacklab validate`` reads them). The functions are imported on use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checks.registry import Verdict, check

if TYPE_CHECKING:
    from checks.infra.base import Lab


@check("keystone_coherent", "an update through any controller's Keystone is read back from every one",
       roles=("controller",), needs="clouds", once=True)
def keystone_coherent(lab: Lab, v: Verdict) -> None:
    from checks.infra import keystone

    keystone.keystone_coherent(lab, v)


@check("keystone_disable_enforced", "a disabled project or user gets no token from any controller",
       roles=("controller",), needs="clouds", once=True)
def keystone_disable_enforced(lab: Lab, v: Verdict) -> None:
    from checks.infra import keystone

    keystone.keystone_disable_enforced(lab, v)
