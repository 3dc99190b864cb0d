"""Messages from partners and coordinators to a neighbourhood or district: posted, shown until they
expire, withdrawable. Title and body stay in the service; events carry ids, area and kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

from services.neighbourhoods.domain.areas import check_area
from services.neighbourhoods.domain.texts import TEXT_MAX, TITLE_MAX, check_aware, check_code, check_id, check_text
from shared.errors import FieldErrors
from shared.events.catalog import EventData, MessagePosted, MessageWithdrawn
from shared.events.codes import MessageKind


@dataclass(frozen=True)
class PostInput:
    area: str | None
    kind: str | None
    title: str | None
    body: str | None
    valid_until: datetime | None
    partner_id: str | None


@dataclass(frozen=True)
class CheckedPost:
    area: str
    kind: MessageKind
    title: str
    body: str
    valid_until: datetime | None
    partner_id: UUID | None


def check_post(given: PostInput, now: datetime, errors: FieldErrors) -> CheckedPost | None:
    """Every invalid field into `errors`; the checked post when there was none."""
    area = check_area(errors, "area", given.area)
    kind = check_code(errors, "kind", given.kind, MessageKind)
    title = check_text(errors, "title", given.title, limit=TITLE_MAX, required=True)
    body = check_text(errors, "body", given.body, limit=TEXT_MAX, required=True)
    valid_until = check_aware(errors, "validUntil", given.valid_until)
    if valid_until is not None and valid_until <= now:
        errors.add("validUntil", "must lie in the future")
    partner_id = check_id(errors, "partnerId", given.partner_id)
    if errors or kind is None or title is None or body is None:
        return None
    return CheckedPost(area, kind, title, body, valid_until, partner_id)


@dataclass
class Message:
    id: UUID
    municipality: str
    area: str
    kind: MessageKind
    title: str
    body: str
    partner_id: UUID | None
    posted_by: str
    posted_at: datetime
    valid_until: datetime | None = None
    withdrawn_at: datetime | None = None
    version: int = 1
    pending: list[tuple[int, EventData]] = field(default_factory=list)

    @classmethod
    def post(cls, post: CheckedPost, municipality: str, partner_id: UUID | None, by: str, at: datetime) -> Message:
        message = cls(
            id=uuid4(),
            municipality=municipality,
            area=post.area,
            kind=post.kind,
            title=post.title,
            body=post.body,
            partner_id=partner_id,
            posted_by=by,
            posted_at=at,
            valid_until=post.valid_until,
            version=1,
        )
        message.pending.append(
            (
                1,
                MessagePosted(
                    message_id=message.id,
                    municipality=municipality,
                    area=message.area,
                    kind=message.kind,
                    partner_id=partner_id,
                    posted_at=at,
                    valid_until=message.valid_until,
                ),
            )
        )
        return message

    def withdraw(self, at: datetime) -> bool:
        """False when it was withdrawn already (nothing changes)."""
        if self.withdrawn_at is not None:
            return False
        self.withdrawn_at = at
        self.version += 1
        self.pending.append(
            (
                self.version,
                MessageWithdrawn(
                    message_id=self.id,
                    municipality=self.municipality,
                    area=self.area,
                    kind=self.kind,
                    partner_id=self.partner_id,
                    withdrawn_at=at,
                ),
            )
        )
        return True

    def shown_at(self, now: datetime) -> bool:
        """Listed: not withdrawn and not expired."""
        return self.withdrawn_at is None and (self.valid_until is None or self.valid_until >= now)
