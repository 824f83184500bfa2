"""Follow-up tasks: beat runs `followups.run_due` every minute (PERIODIC_TASKS)."""

from __future__ import annotations

import structlog
from celery import shared_task

from followups.runner import DEFAULT_BUDGET_SECONDS, followups_run_due

log = structlog.get_logger(__name__)


# Routed to the `default` queue by name (CELERY_TASK_ROUTES "*"). A tick works on due rows only
# and stops claiming after DEFAULT_BUDGET_SECONDS, inside these limits; rows it claimed are
# leased, so a tick killed at the hard limit loses nothing (they are due again after the lease).
# Acknowledged late like every task: a redelivered tick is harmless (claims and idempotency keys).
@shared_task(
    name="followups.run_due",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=DEFAULT_BUDGET_SECONDS + 60,
    time_limit=DEFAULT_BUDGET_SECONDS + 90,
)
def run_due() -> str:
    report = followups_run_due()
    return report.summary()
