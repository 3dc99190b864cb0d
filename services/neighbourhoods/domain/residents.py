"""Where a resident lives: the neighbourhoods (BU) they named, at most three.

A resident is known here only by a keyed pseudonym of their token subject
(`shared.crypto.resident_ref`): the same one their events carry, never the subject itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared import areas
from shared.errors import Conflict
from shared.events.catalog import EventData, ResidentJoined, ResidentLeft

MAX_NEIGHBOURHOODS = 3


class TooManyNeighbourhoods(Conflict):
    def __init__(self) -> None:
        super().__init__(
            f"Je kunt in hoogstens {MAX_NEIGHBOURHOODS} buurten wonen. Verlaat eerst een buurt voordat je een"
            " nieuwe kiest."
        )


@dataclass
class Residence:
    """The neighbourhoods one resident lives in; `version` orders their events."""

    resident: str
    areas: list[str]
    version: int = 0
    municipality: str = ""
    pending: list[tuple[int, EventData]] = field(default_factory=list)

    def join(self, area: str, at: datetime) -> bool:
        """Name a neighbourhood; False when it was named already (nothing changes)."""
        if area in self.areas:
            return False
        if len(self.areas) >= MAX_NEIGHBOURHOODS:
            raise TooManyNeighbourhoods()
        self.areas.append(area)
        municipality = self._moved_in(area)
        self._raise(ResidentJoined(resident=self.resident, municipality=municipality, area=area, joined_at=at))
        return True

    def leave(self, area: str, at: datetime) -> bool:
        """No longer name it; False when it was not named."""
        if area not in self.areas:
            return False
        self.areas.remove(area)
        municipality = self._moved_in(area)
        self._raise(ResidentLeft(resident=self.resident, municipality=municipality, area=area, left_at=at))
        return True

    def _moved_in(self, area: str) -> str:
        """The municipality of the change: its events are published for it."""
        self.municipality = areas.parse(area).municipality
        return self.municipality

    def _raise(self, event: EventData) -> None:
        self.version += 1
        self.pending.append((self.version, event))
