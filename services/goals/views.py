"""Goals, reviews and proposals as the API writes them (camelCase JSON)."""

from __future__ import annotations

from typing import Any

from services.goals import permissions
from services.goals.domain import Goal, Proposal, Review
from shared.auth import Principal
from shared.clock import rfc3339


def goal_json(goal: Goal) -> dict[str, Any]:
    return {
        "id": str(goal.id),
        "municipality": goal.municipality,
        "area": goal.area,
        "year": goal.year,
        "title": goal.title,
        "description": goal.description,
        "theme": goal.theme,
        "categories": [c.value for c in goal.categories],
        "indicators": [i.as_json() for i in goal.indicators],
        "partnerIds": [str(p) for p in goal.partner_ids],
        "status": goal.status.value,
        "proposalId": str(goal.proposal_id) if goal.proposal_id else None,
        "createdAt": rfc3339(goal.created_at),
        "updatedAt": rfc3339(goal.updated_at),
    }


def review_json(review: Review) -> dict[str, Any]:
    return {
        "id": str(review.id),
        "goalId": str(review.goal_id),
        "quarter": review.quarter,
        "assessment": review.assessment,
        "decision": review.decision,
        "notes": review.notes,
        "measurements": review.measurements,
        "cooperation": review.cooperation,
        "reviewedAt": rfc3339(review.reviewed_at),
    }


def proposal_json(p: Proposal, principal: Principal) -> dict[str, Any]:
    """The decline reason only for those who may see it (the proposer, coordinators)."""
    return {
        "id": str(p.id),
        "municipality": p.municipality,
        "area": p.area,
        "year": p.year,
        "title": p.title,
        "description": p.description,
        "categories": p.categories,
        "groupId": str(p.group_id) if p.group_id else None,
        "supportCount": p.support_count,
        "supportFromArea": p.support_from_area,
        "supportedByMe": p.supported_by_me,
        "status": p.status,
        "declineReason": p.decline_reason if permissions.sees_decline_reason(principal, p.proposer) else None,
        "goalId": str(p.goal_id) if p.goal_id else None,
        "proposedAt": rfc3339(p.proposed_at),
    }
