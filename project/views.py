from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from project.health import health_report
from project.stats import stats_today


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503, json_dumps_params={"ensure_ascii": False})


@never_cache
@require_GET
def stats(request: HttpRequest) -> JsonResponse:
    return JsonResponse(stats_today(), json_dumps_params={"ensure_ascii": False})
