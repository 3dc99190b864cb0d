"""Where a partner is reached: the channels read model kept from `partner.*` events."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from shared import areas
from shared.events.codes import PartnerKind


class Channel(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


@dataclass(frozen=True)
class PartnerChannels:
    """The read model of one partner: where it is reached, and whether it may be."""

    partner_id: UUID
    kind: PartnerKind
    municipalities: tuple[str, ...]
    areas: tuple[str, ...]
    active: bool
    webhook_url: str | None
    email: str | None
    webhook_disabled: bool = False

    def channels(self) -> list[Channel]:
        if not self.active:
            return []
        found: list[Channel] = []
        if self.webhook_url and not self.webhook_disabled:
            found.append(Channel.WEBHOOK)
        if self.email:
            found.append(Channel.EMAIL)
        return found

    def covers_part_of(self, area: str) -> bool:
        return any(areas.overlap(own, area) for own in self.areas)


def channel_update_applies(current_version: int | None, incoming_version: int) -> bool:
    """Partner events carry the full state: only a newer version replaces the read model."""
    return current_version is None or incoming_version > current_version


def keeps_webhook_disabled(was_disabled: bool, old_url: str | None, new_url: str | None) -> bool:
    """A 410 disables the channel until the partner registers another url."""
    return was_disabled and old_url == new_url
