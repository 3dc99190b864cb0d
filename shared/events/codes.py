"""Code lists that events carry. Values are the design's lower-case codes."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    SUSPICIOUS_SITUATION = "suspicious_situation"
    BURGLARY = "burglary"
    YOUTH_NUISANCE = "youth_nuisance"
    DRUGS_NUISANCE = "drugs_nuisance"
    NOISE_NUISANCE = "noise_nuisance"
    VANDALISM = "vandalism"
    LITTER_DUMPING = "litter_dumping"
    TRAFFIC_SAFETY = "traffic_safety"
    OTHER = "other"


class Urgency(StrEnum):
    ACUTE = "acute"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class SignalStatus(StrEnum):
    RECEIVED = "received"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    MERGED = "merged"
    REOPENED = "reopened"
    REACTION_REQUESTED = "reaction_requested"  # open: the partner asked the reporter a question


class SignalSource(StrEnum):
    APP = "app"
    WHATSAPP_GROUP = "whatsapp_group"
    WEB = "web"
    PARTNER = "partner"


class PartnerKind(StrEnum):
    POLICE = "police"
    MUNICIPALITY = "municipality"
    YOUTH_WORK = "youth_work"
    HOUSING_CORPORATION = "housing_corporation"
    CARE = "care"
    RESIDENT_GROUP = "resident_group"
    WHATSAPP_GROUP = "whatsapp_group"
    OTHER = "other"


# Groups report and hear back: never routed or escalated to, never a responsible partner.
GROUP_KINDS: frozenset[PartnerKind] = frozenset({PartnerKind.RESIDENT_GROUP, PartnerKind.WHATSAPP_GROUP})


class IndicatorKind(StrEnum):
    SIGNAL_COUNT = "signal_count"
    MEDIAN_ACKNOWLEDGE_MINUTES = "median_acknowledge_minutes"
    RESOLVED_SHARE = "resolved_share"
    SATISFIED_SHARE = "satisfied_share"  # of the quarter's rated signals, the share rated satisfied
    INITIATIVES = "initiatives"  # residents' initiatives active or done in the area in the quarter
    PARTICIPANTS = "participants"  # residents taking part in those initiatives
    MANUAL = "manual"  # a value a coordinator records (Veiligheidsmonitor, buurtpeiling)


class ProposalDecision(StrEnum):
    ADOPTED = "adopted"
    DECLINED = "declined"


class Direction(StrEnum):
    DECREASE = "decrease"
    INCREASE = "increase"


class GoalStatus(StrEnum):
    ACTIVE = "active"
    ACHIEVED = "achieved"
    DROPPED = "dropped"


class Assessment(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"


class Decision(StrEnum):
    CONTINUE = "continue"
    ADJUST = "adjust"
    REPLACE = "replace"
    ACHIEVED = "achieved"


class AreaLevel(StrEnum):
    MUNICIPALITY = "municipality"
    DISTRICT = "district"
    NEIGHBOURHOOD = "neighbourhood"


class MessageKind(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CALL_TO_ACTION = "call_to_action"
    RESULT = "result"
    EVENT = "event"


class InitiativeKind(StrEnum):
    CLEANUP = "cleanup"
    MEETING = "meeting"
    NEIGHBOURHOOD_WATCH = "neighbourhood_watch"
    YOUTH_ACTIVITY = "youth_activity"
    GREENING = "greening"
    SOCIAL = "social"
    OTHER = "other"


class InitiativeStatus(StrEnum):
    ACTIVE = "active"
    DONE = "done"
    STOPPED = "stopped"


class SupportKind(StrEnum):
    BUDGET = "budget"
    MATERIAL = "material"
    PRESENCE = "presence"
    PERMIT = "permit"
    PUBLICITY = "publicity"
    ADVICE = "advice"


class Role(StrEnum):
    RESIDENT = "resident"
    GROUP_ADMIN = "group_admin"
    PARTNER_AGENT = "partner_agent"
    COORDINATOR = "coordinator"
    REGION_ADMIN = "region_admin"
    INTEGRATION = "integration"
    SERVICE = "service"
