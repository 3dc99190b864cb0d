"""The notifications domain, pure and without I/O, split by concept:

- `channels`: where a partner is reached (the read model of `partner.*`);
- `audience`: who hears about which event;
- `webhook`: what a webhook says (CloudEvents, the contract's table) and where it goes;
- `retries`: the retry schedule and what an answer means;
- `delivery`: the `Delivery` entity, its attempts and the events it raises;
- `mail`: the Dutch e-mails;
- `errors`: one exception per rule.

The names are re-exported here, so `domain.audience(...)` reads as before the split.
"""

from services.notifications.domain.audience import (
    AREA_REVIEWED,
    AUDIENCE_BY_AREA_OF_EVERY_KIND,
    GOAL_EVENTS,
    GROUP_FROM_READ_MODEL,
    HANDLED_EVENTS,
    INITIATIVE_FOLLOW_UPS,
    INITIATIVE_STARTED,
    LEADER,
    MESSAGE_EVENTS,
    OWN_REPORTERS_ONLY,
    PROPOSAL_DECIDED,
    PROPOSER,
    REPORTER,
    REPORTER_STEPS,
    SIGNAL_EVENTS_TO_PARTNER,
    SIGNAL_FEEDBACK_EVENTS,
    Notifiable,
    Target,
    audience,
    named_partners,
    reporters_asked,
)
from services.notifications.domain.channels import (
    Channel,
    PartnerChannels,
    channel_update_applies,
    keeps_webhook_disabled,
)
from services.notifications.domain.delivery import (
    DONE_STATUSES,
    OPEN_STATUSES,
    Attempt,
    Delivery,
    NextState,
    Status,
    after_attempt,
)
from services.notifications.domain.errors import (
    MayNotPing,
    NoSuchDelivery,
    NoSuchPartner,
    NotADeliveryReader,
    NoWebhookChannel,
    OtherPartnersDeliveries,
)
from services.notifications.domain.mail import (
    Mail,
    group_mail,
    leader_mail,
    partner_mail,
    proposer_mail,
    reporter_mail,
)
from services.notifications.domain.retries import (
    DEFAULT_RETRY_SCHEDULE,
    JITTER,
    Outcome,
    classify_response,
    parse_schedule,
    retry_delay,
)
from services.notifications.domain.webhook import (
    PING,
    SOURCE,
    TYPE_PREFIX,
    cloud_event,
    dataref,
    pin_to_address,
    webhook_data,
)
from shared.events.codes import GROUP_KINDS

__all__ = [
    "AREA_REVIEWED",
    "AUDIENCE_BY_AREA_OF_EVERY_KIND",
    "DEFAULT_RETRY_SCHEDULE",
    "DONE_STATUSES",
    "GOAL_EVENTS",
    "GROUP_FROM_READ_MODEL",
    "GROUP_KINDS",
    "HANDLED_EVENTS",
    "INITIATIVE_FOLLOW_UPS",
    "INITIATIVE_STARTED",
    "JITTER",
    "LEADER",
    "MESSAGE_EVENTS",
    "OPEN_STATUSES",
    "OWN_REPORTERS_ONLY",
    "PING",
    "PROPOSAL_DECIDED",
    "PROPOSER",
    "REPORTER",
    "REPORTER_STEPS",
    "SIGNAL_EVENTS_TO_PARTNER",
    "SIGNAL_FEEDBACK_EVENTS",
    "SOURCE",
    "TYPE_PREFIX",
    "Attempt",
    "Channel",
    "Delivery",
    "Mail",
    "MayNotPing",
    "NextState",
    "NoSuchDelivery",
    "NoSuchPartner",
    "NoWebhookChannel",
    "NotADeliveryReader",
    "Notifiable",
    "OtherPartnersDeliveries",
    "Outcome",
    "PartnerChannels",
    "Status",
    "Target",
    "after_attempt",
    "audience",
    "channel_update_applies",
    "classify_response",
    "cloud_event",
    "dataref",
    "group_mail",
    "keeps_webhook_disabled",
    "leader_mail",
    "named_partners",
    "parse_schedule",
    "partner_mail",
    "pin_to_address",
    "proposer_mail",
    "reporter_mail",
    "reporters_asked",
    "retry_delay",
    "webhook_data",
]
