"""When a quarter has ended, every active goal of that year is told once that its review is due.

Exactly once also with several replicas and across restarts: the (goal, quarter) row is
inserted in the same transaction as the outbox row of `goal.review_due`.
"""

from __future__ import annotations

from collections.abc import Callable

from services.goals import store
from services.goals.domain import review_due_quarter
from shared.clock import Clock
from shared.db import UnitOfWork
from shared.events.catalog import GoalReviewDue
from shared.observability import get_logger

log = get_logger(__name__)


async def tick(uow_factory: Callable[[], UnitOfWork], clock: Clock, batch_size: int = 200) -> int:
    """Emit what is due for the quarter that ended last; the number of goals told."""
    quarter = review_due_quarter(clock.now())
    told = 0
    while True:
        async with uow_factory() as uow:
            goals = await store.claim_reviews_due(uow.session, quarter, batch_size)
            for goal in goals:
                version = await store.bump_goal_version(uow.session, goal.id)
                uow.emit(
                    GoalReviewDue(
                        goal_id=goal.id,
                        municipality=goal.municipality,
                        area=goal.area,
                        year=goal.year,
                        quarter=str(quarter),
                        partner_ids=goal.partner_ids,
                    ),
                    sequence=version,
                    municipality=goal.municipality,
                )
            await uow.commit()
        told += len(goals)
        if len(goals) < batch_size:
            break
    if told:
        log.info("reviews_due", quarter=str(quarter), goals=told)
    return told
