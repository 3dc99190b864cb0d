"""The contract's enums: GraphQL names are the design's codes upper-cased, Python values the services' codes.

The code lists themselves live once, in the event catalog (`shared.events.codes`); the gateway
only exposes them to GraphQL under the contract's names.
"""

from collections.abc import Iterable
from enum import Enum

import strawberry

from shared.events import codes

SignalCategory = codes.Category
Urgency = codes.Urgency
SignalStatus = codes.SignalStatus
SignalSource = codes.SignalSource
PartnerKind = codes.PartnerKind
IndicatorKind = codes.IndicatorKind
Direction = codes.Direction
GoalStatus = codes.GoalStatus
Assessment = codes.Assessment
Decision = codes.Decision


def register(named: Iterable[tuple[type[Enum], str]]) -> None:
    """Registers each code list with strawberry under the contract's name (in place: the class stays the same)."""
    for code_list, name in named:
        strawberry.enum(code_list, name=name)


register(
    (
        (codes.Category, "SignalCategory"),
        (codes.Urgency, "Urgency"),
        (codes.SignalStatus, "SignalStatus"),
        (codes.SignalSource, "SignalSource"),
        (codes.PartnerKind, "PartnerKind"),
        (codes.IndicatorKind, "IndicatorKind"),
        (codes.Direction, "Direction"),
        (codes.GoalStatus, "GoalStatus"),
        (codes.Assessment, "Assessment"),
        (codes.Decision, "Decision"),
    )
)


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
