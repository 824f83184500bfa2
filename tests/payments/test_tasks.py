"""The payment tasks as Celery and beat really have them (a misspelt setting is silently ignored):
registered, routed to a queue a worker consumes, and on beat's schedule where they should be."""

from __future__ import annotations

from django.conf import settings

import payments.tasks  # noqa: F401  (registers the tasks)
from project.celery import app


def test_payment_tasks_are_routed_to_a_queue_the_worker_consumes():
    consumed = {queue.name for queue in app.conf.task_queues}
    router = app.amqp.router
    for name in (
        "payments.check_payment",
        "payments.expire_invoices",
        "payments.post_purchase_tick",
    ):
        assert name in app.tasks
        route = router.route({}, name)
        assert route["queue"].name in consumed


def test_beat_runs_the_expiry_sweep_and_the_post_purchase_tick_but_never_polls_live_invoices():
    periodic = settings.PERIODIC_TASKS
    assert periodic["payments.expire_invoices"] > 0
    assert periodic["payments.post_purchase_tick"] > 0
    assert [name for name in periodic if name.startswith("payments.")] == [
        "payments.expire_invoices",
        "payments.post_purchase_tick",
    ]
