"""The contract's enums: GraphQL names are the design's codes upper-cased, Python values the services' codes."""

from enum import Enum

import strawberry


@strawberry.enum
class SignalCategory(Enum):
    SUSPICIOUS_SITUATION = "suspicious_situation"
    BURGLARY = "burglary"
    YOUTH_NUISANCE = "youth_nuisance"
    DRUGS_NUISANCE = "drugs_nuisance"
    NOISE_NUISANCE = "noise_nuisance"
    VANDALISM = "vandalism"
    LITTER_DUMPING = "litter_dumping"
    TRAFFIC_SAFETY = "traffic_safety"
    OTHER = "other"


@strawberry.enum
class Urgency(Enum):
    ACUTE = "acute"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


@strawberry.enum
class SignalStatus(Enum):
    RECEIVED = "received"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    MERGED = "merged"
    REOPENED = "reopened"


@strawberry.enum
class SignalSource(Enum):
    APP = "app"
    WHATSAPP_GROUP = "whatsapp_group"
    WEB = "web"
    PARTNER = "partner"


@strawberry.enum
class PartnerKind(Enum):
    POLICE = "police"
    MUNICIPALITY = "municipality"
    YOUTH_WORK = "youth_work"
    HOUSING_CORPORATION = "housing_corporation"
    CARE = "care"
    RESIDENT_GROUP = "resident_group"
    WHATSAPP_GROUP = "whatsapp_group"
    OTHER = "other"


@strawberry.enum
class IndicatorKind(Enum):
    SIGNAL_COUNT = "signal_count"
    MEDIAN_ACKNOWLEDGE_MINUTES = "median_acknowledge_minutes"
    RESOLVED_SHARE = "resolved_share"


@strawberry.enum
class Direction(Enum):
    DECREASE = "decrease"
    INCREASE = "increase"


@strawberry.enum
class GoalStatus(Enum):
    ACTIVE = "active"
    ACHIEVED = "achieved"
    DROPPED = "dropped"


@strawberry.enum
class Assessment(Enum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"


@strawberry.enum
class Decision(Enum):
    CONTINUE = "continue"
    ADJUST = "adjust"
    REPLACE = "replace"
    ACHIEVED = "achieved"


@strawberry.enum
class DeliveryStatus(Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"


@strawberry.enum
class ProposalStatus(Enum):
    OPEN = "open"
    ADOPTED = "adopted"
    DECLINED = "declined"
