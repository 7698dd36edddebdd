"""The lab's fault vocabulary: one small parameter model per fault verb.

Verbs register themselves with ``@fault_verb``; the scenario schema's ``action`` enum
is built from this registry, so a verb exists in files exactly when it exists in
code. How each verb is carried out lives in ``lab.faults``.

>>> sorted(LAB_FAULTS)[:3]
['freeze', 'link_down', 'link_loss']
>>> LAB_FAULTS["link_loss"].model_validate({"action": "link_loss", "node": "cmp1",
...     "network": "overlay", "percent": 30}).percent
30.0
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypeVar

from pydantic import Field

from lab.modelbase import Duration, Name, StrictModel

LAB_FAULTS: dict[str, type[FaultSpec]] = {}
F = TypeVar("F", bound="type[FaultSpec]")


def fault_verb(name: str):  # type: ignore[no-untyped-def]
    """Class decorator registering a fault verb under ``name``."""

    def register(cls: F) -> F:
        LAB_FAULTS[name] = cls
        return cls

    return register


class FaultSpec(StrictModel):
    """A fault step's parameters. ``id`` lets a later ``heal`` step name it."""

    id: Name | None = None

    def nodes(self) -> list[str]:
        """Node selectors this fault refers to (checked against the topology)."""
        node = getattr(self, "node", None)
        return [node] if node else []


class NodeFault(FaultSpec):
    node: str = Field(description="node name, role:NAME, @vip_holder, @galera_primary or @random")
    # what it acts on and what heal does, for the README's fault table (deployer faults declare them)
    KIND: ClassVar[str] = "lab"
    UNDO: ClassVar[str] = ""


@fault_verb("power_off")
class PowerOff(NodeFault):
    """Stop the node AND take its links down: a live netns would keep answering for a VIP."""

    action: Literal["power_off"]


@fault_verb("power_on")
class PowerOn(NodeFault):
    action: Literal["power_on"]


@fault_verb("reboot")
class Reboot(NodeFault):
    action: Literal["reboot"]


@fault_verb("freeze")
class Freeze(NodeFault):
    """Freeze every process of the node (cgroup freezer): hung, not dead."""

    action: Literal["freeze"]
    duration: Duration | None = Field(None, description="thaw by itself after this long")


@fault_verb("thaw")
class Thaw(NodeFault):
    action: Literal["thaw"]


class LinkFault(NodeFault):
    network: str


@fault_verb("link_down")
class LinkDown(LinkFault):
    action: Literal["link_down"]


@fault_verb("link_up")
class LinkUp(LinkFault):
    action: Literal["link_up"]


@fault_verb("link_loss")
class LinkLoss(LinkFault):
    """Random loss on the fabric side of a link (nft numgen; this kernel has no netem)."""

    action: Literal["link_loss"]
    percent: float = Field(gt=0, le=100)


@fault_verb("link_rate")
class LinkRate(LinkFault):
    action: Literal["link_rate"]
    mbit: float = Field(gt=0, le=100000)


@fault_verb("set_mtu")
class SetMtu(LinkFault):
    action: Literal["set_mtu"]
    mtu: int = Field(ge=68, le=9000)


@fault_verb("partition")
class Partition(FaultSpec):
    """Nodes in different groups cannot reach each other on any network."""

    action: Literal["partition"]
    groups: list[list[str]] = Field(min_length=2)

    def nodes(self) -> list[str]:
        return [n for group in self.groups for n in group]
