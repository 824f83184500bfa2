from __future__ import annotations

from celery import shared_task

from evals.services import eval_run_execute


@shared_task(name="evals.run", ignore_result=True, acks_late=True, soft_time_limit=1900, time_limit=2000)
def run_evals(run_id: int) -> None:
    """Runs the scenario cards an operator asked for (EvalRun `run_id`) and stores the report."""
    eval_run_execute(run_id=run_id)
