"""The effective Celery and beat settings for the payment tasks (a misspelt name is silently ignored)."""

from __future__ import annotations

from django.conf import settings

from project.celery import app


def test_payment_tasks_are_routed_to_a_queue_the_worker_consumes():
    import payments.tasks  # noqa: F401  (registers the tasks)

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


def test_payment_defaults():
    from decimal import Decimal

    from project import settings as product

    assert isinstance(product.PAYMENT_APPROVAL_THRESHOLD, Decimal)
    assert product.PAYMENT_CHECK_DEBOUNCE_SECONDS == 30.0
    assert product.POST_PURCHASE_MAX_PER_CUSTOMER == 3
    assert product.POST_PURCHASE_COOLDOWN_HOURS == 24.0
    assert product.POST_PURCHASE_DAILY_LIMIT == 100
    assert product.POST_PURCHASE_ENABLED is False
