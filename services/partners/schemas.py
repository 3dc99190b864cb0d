"""REST bodies of the partners API (camelCase on the wire); how a partner is shown is `views.py`.

Inputs are typed loosely where the domain checks them (codes as strings), so that every
invalid field is reported at once by the domain rather than the first one by the parser.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.partners import domain
from services.partners.domain import Changes, Registration
from shared.bodies import CamelBody
from shared.events.codes import Category, PartnerKind

CategoryCode = Annotated[str, Field(json_schema_extra={"enum": [c.value for c in Category]})]
KindCode = Annotated[str, Field(json_schema_extra={"enum": [k.value for k in PartnerKind]})]
LIMITED_NOTE = (
    " Null for readers who only see names, kinds and areas (users of the municipality who do not"
    " manage partners and do not work for this partner)."
)


class AvailabilityBody(CamelBody):
    weekday: int = Field(description="1 = Monday ... 7 = Sunday")
    from_: str = Field(alias="from", description="HH:MM, local time (Europe/Amsterdam)", examples=["20:00"])
    until: str = Field(description="HH:MM; before `from` means the window crosses midnight", examples=["02:00"])


class RegisterPartnerBody(CamelBody):
    name: str = Field(
        description="unique within each of its municipalities, inactive partners included (409 otherwise)"
    )
    kind: KindCode
    municipalities: list[str] = Field(description="CBS codes, GM + 4 digits", examples=[["GM0479"]])
    areas: list[str] = Field(
        description="coverage: GM, WK or BU codes inside its municipalities", examples=[["WK047901"]]
    )
    categories: list[CategoryCode] = Field(
        description="the signal categories it handles; may be empty for groups (whatsapp_group, resident_group)"
    )
    auto_escalate: list[CategoryCode] = Field(default=[], description="of its categories, those escalated at once")
    acknowledge_within_minutes: int | None = Field(
        default=None,
        description=(
            "minutes to acknowledge an escalated signal (> 0); required except for groups, which are never"
            f" escalated to ({domain.GROUP_ACKNOWLEDGE_MINUTES} when left out)"
        ),
    )
    acknowledge_within_minutes_by_urgency: dict[str, int] = Field(
        default={}, description="optional per urgency code (acute, high, normal, low), overriding the default"
    )
    availability: list[AvailabilityBody] = Field(default=[], description="weekly windows; none means always")
    priority: int = Field(default=0, description="higher wins when several partners cover an area equally")
    webhook_url: str | None = Field(
        default=None, description="https, resolving to public addresses only (allow-listed hosts excepted)"
    )
    email: str | None = Field(default=None, description="the partner's channel address for e-mail notifications")

    def registration(self) -> Registration:
        return Registration(
            name=self.name,
            kind=self.kind,
            municipalities=self.municipalities,
            areas=self.areas,
            categories=self.categories,
            auto_escalate=self.auto_escalate,
            acknowledge_within_minutes=self.acknowledge_within_minutes,
            acknowledge_within_minutes_by_urgency=self.acknowledge_within_minutes_by_urgency,
            availability=[(w.weekday, w.from_, w.until) for w in self.availability],
            priority=self.priority,
            webhook_url=self.webhook_url,
            email=self.email,
        )


class UpdatePartnerBody(CamelBody):
    """Only the fields present change; `webhookUrl: null` or `email: null` removes that channel.

    `kind` and `municipalities` cannot change (400): register a new partner instead.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    name: str | None = None
    areas: list[str] | None = None
    categories: list[CategoryCode] | None = None
    auto_escalate: list[CategoryCode] | None = None
    acknowledge_within_minutes: int | None = None
    acknowledge_within_minutes_by_urgency: dict[str, int] | None = None
    availability: list[AvailabilityBody] | None = None
    priority: int | None = None
    webhook_url: str | None = None
    email: str | None = None
    active: bool | None = Field(default=None, description="false deactivates (partner.deactivated), true reactivates")

    def changes(self) -> Changes:
        fields: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if name == "availability":
                value = [(w.weekday, w.from_, w.until) for w in value or []]
            fields[to_camel(name)] = value
        for name in domain.IMMUTABLE:
            if name in (self.model_extra or {}):
                fields[name] = (self.model_extra or {})[name]
        for name in ("name", "acknowledgeWithinMinutes", "priority", "active"):
            if name in fields and fields[name] is None:
                fields[name] = ""  # null is no value for these: reported as invalid
        return Changes(fields)


class AvailabilityOut(CamelBody):
    weekday: int
    from_: str = Field(alias="from")
    until: str


class PartnerOut(CamelBody):
    id: UUID
    name: str
    kind: KindCode
    municipalities: list[str]
    areas: list[str]
    active: bool
    categories: list[CategoryCode] | None = Field(default=None, description="handled categories." + LIMITED_NOTE)
    auto_escalate: list[CategoryCode] | None = Field(default=None, description="escalated at once." + LIMITED_NOTE)
    acknowledge_within_minutes: int | None = Field(default=None, description=LIMITED_NOTE.strip())
    acknowledge_within_minutes_by_urgency: dict[str, int] | None = Field(default=None, description=LIMITED_NOTE.strip())
    availability: list[AvailabilityOut] | None = Field(default=None, description=LIMITED_NOTE.strip())
    priority: int | None = Field(default=None, description=LIMITED_NOTE.strip())
    webhook_url: str | None = Field(default=None, description="null when none is set." + LIMITED_NOTE)
    email: str | None = Field(default=None, description="null when none is set." + LIMITED_NOTE)
    registered_at: datetime | None = Field(default=None, description="RFC 3339 UTC." + LIMITED_NOTE)
    version: int | None = Field(default=None, description="the aggregate version, the events' sequence." + LIMITED_NOTE)


class PartnerWithSecret(CamelBody):
    partner: PartnerOut
    webhook_secret: str = Field(description="`whsec_` + base64 of 32 bytes: shown in this answer only")


class PartnerList(CamelBody):
    results: list[PartnerOut]
    total_count: int
    next: str | None = Field(description="cursor for `after`, null on the last page")


class ContactBody(CamelBody):
    name: str
    role: str = Field(description="e.g. wijkagent, jongerenwerker, groepsbeheerder")
    email: str


class ContactOut(CamelBody):
    id: UUID
    partner_id: UUID
    name: str
    role: str
    email: str
    created_at: datetime


class ContactList(CamelBody):
    results: list[ContactOut]
    total_count: int
    next: str | None


class WebhookSecrets(CamelBody):
    secrets: list[str] = Field(description="every currently valid secret, newest first")
