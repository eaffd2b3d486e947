"""An example twin fault kind plug-in: a failing optic corrupts a share of a link's packets.

Everything a kind needs is here: its params (checked by the scenario schema), its undo data,
what it does and how it is undone. Installing the package makes ``kind: link_corruption``
usable in scenarios; twin itself is not edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from twin.faults import FaultKind, FaultParams
from twin.sim.effects import Effects

__all__ = ["LinkCorruption", "SCENARIO"]

#: A small scenario that uses the kind.
SCENARIO = Path(__file__).resolve().parent / "corrupt-link.yaml"


class LinkCorruption(FaultKind):
    """CRC errors: the link drops ``rate`` of what it carries, on top of any loss it had."""

    name, layer, description = (
        "link_corruption",
        "wan",
        "a failing optic corrupts params.rate of a link's packets",
    )
    references = {"link": "link"}

    class Params(FaultParams):
        link: str
        rate: float = Field(gt=0, le=1)

    @dataclass
    class Undo:
        before: float = 0.0  # the link's loss before the optic failed

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        i = world.topology.link_index[params.link]
        undo.before = float(state.network.link_loss[i])
        state.network.link_loss[i] = 1 - (1 - state.network.link_loss[i]) * (1 - params.rate)
        fx = Effects()
        fx.log(
            "health",
            params.link,
            f"CRC errors on {params.link}: {params.rate:.0%} of frames corrupted",
        )
        return fx

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        state.network.link_loss[world.topology.link_index[params.link]] = undo.before
        fx = Effects()
        fx.log("health", params.link, f"optic on {params.link} replaced; no more CRC errors")
        return fx
