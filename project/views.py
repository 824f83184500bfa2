"""/health and /stats.

/health answers anyone (load balancers and uptime checks probe it): the status code (200/503),
the spec's keys and every part's state and counts. Staff (the admin's session) and the
monitoring system (the metrics credentials: METRICS_TOKEN or METRICS_ALLOWED_IPS) get the
details besides: error texts, hosts, the quarantined chats. /stats is for them only.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from project.health import health_report
from project.lib.access import operator_refusal
from project.stats import stats_today


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    # A wrong or missing credential is no reason to refuse: the public summary is the answer.
    healthy, report = health_report(detailed=operator_refusal(request) is None)
    return JsonResponse(report, status=200 if healthy else 503, json_dumps_params={"ensure_ascii": False})


@never_cache
@require_GET
def stats(request: HttpRequest) -> HttpResponse:
    refusal = operator_refusal(request)
    if refusal is not None:
        return refusal
    return JsonResponse(stats_today(), json_dumps_params={"ensure_ascii": False})
