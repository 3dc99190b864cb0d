"""The goals domain, pure Python and no I/O, split by concept:

- `quarters`: Europe/Amsterdam quarters and what a quarter's signals add up to (statistics);
- `indicators`: what a goal measures, and a quarter's measurement of it;
- `checks`: the field checks the others share (every invalid field reported at once);
- `goals`: the goal aggregate and the three-goal rule;
- `reviews`: the quarterly review of a goal;
- `proposals`: residents' proposals, adopted into a goal or declined.
"""

from services.goals.domain.checks import blank_is_none, candidate_partner_ids, parse_categories
from services.goals.domain.goals import (
    MAX_ACTIVE_GOALS,
    Goal,
    GoalChanges,
    GoalInput,
    GoalNotActive,
    TooManyActiveGoals,
    change_goal,
    check_manual_measurement,
    check_room_for_active_goal,
    continue_goal,
    new_goal,
    reactivates,
)
from services.goals.domain.indicators import Indicator, IndicatorInput, Measurement, measure
from services.goals.domain.proposals import Proposal, ProposalDecided, ProposalInput
from services.goals.domain.quarters import (
    Quarter,
    QuarterStats,
    acknowledge_minutes,
    median,
    p90,
    parse_quarter,
    review_due_quarter,
)
from services.goals.domain.reviews import (
    CooperationInput,
    Review,
    ReviewDecision,
    ReviewExists,
    ReviewInput,
    validate_review,
)

__all__ = [
    "MAX_ACTIVE_GOALS",
    "CooperationInput",
    "Goal",
    "GoalChanges",
    "GoalInput",
    "GoalNotActive",
    "Indicator",
    "IndicatorInput",
    "Measurement",
    "Proposal",
    "ProposalDecided",
    "ProposalInput",
    "Quarter",
    "QuarterStats",
    "Review",
    "ReviewDecision",
    "ReviewExists",
    "ReviewInput",
    "TooManyActiveGoals",
    "acknowledge_minutes",
    "blank_is_none",
    "candidate_partner_ids",
    "change_goal",
    "check_manual_measurement",
    "check_room_for_active_goal",
    "continue_goal",
    "measure",
    "median",
    "new_goal",
    "p90",
    "parse_categories",
    "parse_quarter",
    "reactivates",
    "review_due_quarter",
    "validate_review",
]
