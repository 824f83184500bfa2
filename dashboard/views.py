"""The operators' dashboard: a staff-only admin page (/admin/dashboard/)."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from dashboard.charts import Series, bar_chart, funnel_chart
from dashboard.selectors import dashboard_summary


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} с"
    if seconds < 3600:
        return f"{seconds / 60:.1f} мин".replace(".", ",")
    return f"{seconds / 3600:.1f} ч".replace(".", ",")


def _charts(summary: dict[str, Any]) -> dict[str, Any]:
    daily = summary["daily"]
    touches = summary["month"]["followups"]
    return {
        "volume": bar_chart(
            title="Сообщения по дням: входящие и исходящие",
            categories=[row["day"].strftime("%d.%m") for row in daily],
            series=[
                Series("Входящие", [row["inbound"] for row in daily], "s-in"),
                Series("Исходящие", [row["outbound"] for row in daily], "s-out"),
            ],
            label_every=5,
        ),
        "funnel": funnel_chart(
            title="Воронка за 30 дней", stages=[(stage["label"], stage["value"]) for stage in summary["funnel"]]
        ),
        "followups": bar_chart(
            title="Follow-up: отправлено и отвечено в течение 48 ч, по касаниям",
            categories=[f"Касание {row['touch']}" for row in touches],
            series=[
                Series("Отправлено", [row["sent"] for row in touches], "s-out"),
                Series("Ответили за 48 ч", [row["answered"] for row in touches], "s-in"),
            ],
            height=220,
        ),
    }


@never_cache
@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    summary = dashboard_summary()
    windows = [summary["today"], summary["month"]]
    for window in windows:
        window["first_reply_median"] = _duration(window["first_reply_median_seconds"])
        window["followups_sent"] = sum(row["sent"] for row in window["followups"])
        window["followups_answered"] = sum(row["answered"] for row in window["followups"])
        llm = window["llm"]
        tokens = llm["prompt_tokens"] + llm["output_tokens"] + llm["thinking_tokens"]
        window["tokens"] = f"{tokens:,}".replace(",", "\u202f")
    for handoff in summary["handoffs_open"]:
        handoff["age"] = _duration(handoff["age_seconds"])
    context = {
        **admin.site.each_context(request),
        "title": "Панель: как работает ассистент",
        "summary": summary,
        "windows": windows,
        "charts": _charts(summary),
        "generated_at": timezone.localtime(),
        "time_zone": settings.TIME_ZONE,
    }
    return render(request, "dashboard/index.html", context)


def login_locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): a page in Russian that says why and
    for how long, with 429 Too Many Requests. It never says whether the password was right."""
    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else None
    return render(
        request,
        "dashboard/lockout.html",
        {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )
