"""/metrics for Prometheus (prometheus-client's text format).

Two kinds of series:

* What the product's state says, computed at scrape time from the database, the cache and the
  broker (`ProductCollector`), read through the owning apps' selectors: messages by direction
  and status, the outbox, hand-offs to managers, Celery queue depths, model calls, tokens,
  errors and latency (ModelCall rows), send attempts, follow-ups due, answers waiting for the
  model, Wappi's health, worker and beat heartbeats, scheduled calls by status. These are the
  same for every web process, so any process can answer a scrape. Celery task runtimes are not
  recorded by the product; the latency of the work that matters (the model call) and the
  failures (ModelCall errors, failed sends, send attempts) come from the rows instead, and
  Flower shows per-task runtimes.
* What the processes counted as the work happened, kept in the cache (project.lib.tallies)
  because most of it happens in Celery workers, which this web server's memory (or its
  multiprocess files) never sees: Wappi's response time and failures by API endpoint (counted
  in messaging.wappi's one request function) and the model's tool calls by tool and outcome
  (counted in assistant.tools' registry). Also the same for every web process.
* Requests to this web server (`RequestMetricsMiddleware`): counts by view, method and status,
  and a latency histogram by view. They live in the process that served the request: with
  several gunicorn workers set PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode)
  so every scrape sums all workers; without it each process reports its own requests.

No label carries a phone number, a name, a message text or a token: labels are directions,
statuses, purposes, model names, queue names, URL pattern names, Wappi API paths and tool names.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import structlog
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from ai.selectors import model_call_totals, pending_replies_waiting_count
from assistant.tools import TOOL_CALLS_TALLY
from contacts.selectors import scheduled_call_totals_by_status
from followups.selectors import followup_counts
from messaging.number import NUMBER_PAUSE_TALLY
from messaging.selectors import (
    NUMBER_PAUSE_REASONS,
    gateway_status,
    handoff_count,
    handoff_open_stats,
    inbound_unanswered_count,
    inbound_unhandled_count,
    message_totals_by_status,
    number_health,
    outbox_totals,
)
from messaging.suspicious import suspicious_metrics
from messaging.wappi import WAPPI_ERROR_TALLY, WAPPI_LATENCY_BUCKETS, WAPPI_REQUEST_TALLY
from project.health import heartbeat_status
from project.lib.access import metrics_refusal
from project.lib.tallies import tally_counts, tally_histogram
from project.stats import queue_depths

log = structlog.get_logger(__name__)

# Seconds; the model's latency buckets (a Gemini call takes from under a second to the timeout).
LLM_LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)
REQUEST_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# registry=None: the per-scrape registry below collects them (or the multiprocess files do).
HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by URL pattern name, method and status",
    ["view", "method", "status"],
    registry=None,
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by URL pattern name",
    ["view"],
    buckets=REQUEST_LATENCY_BUCKETS,
    registry=None,
)


def _view_label(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    # The pattern's name, never the path: a path holds ids and phone numbers (unbounded labels, PII).
    return (match.view_name or "unnamed") if match else "unresolved"


class RequestMetricsMiddleware:
    """Counts and times every request (first in MIDDLEWARE, so lockouts and redirects count too)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        view = _view_label(request)
        HTTP_REQUESTS.labels(view, request.method or "", str(response.status_code)).inc()
        HTTP_LATENCY.labels(view).observe(time.perf_counter() - started)
        return response


def _epoch(moment: datetime | None) -> float:
    return moment.timestamp() if moment else 0.0


class ProductCollector(Collector):
    """The product's state at scrape time: about a dozen aggregate queries, the cache and the broker."""

    def describe(self) -> list[Any]:
        return []  # computed at scrape time; nothing to check at registration

    def collect(self) -> Iterator[Any]:
        yield from self._messages()
        yield from self._queues()
        yield from self._llm()
        yield from self._work()
        yield from self._wappi()
        yield from self._number()
        yield from self._processes()
        yield from self._calls()
        yield from self._tallies()
        yield from suspicious_metrics()

    def _messages(self) -> Iterator[Any]:
        total = CounterMetricFamily(
            "whatsapp_messages",
            "Messages stored, by direction and (outbound) delivery status",
            labels=["direction", "status"],
        )
        for (direction, status), n in message_totals_by_status().items():
            total.add_metric([direction, status or "received"], n)
        yield total
        sends = outbox_totals()
        yield CounterMetricFamily(
            "whatsapp_send_attempts", "Attempts to hand outbound messages to Wappi", value=sends["attempts"]
        )
        yield CounterMetricFamily(
            "whatsapp_send_failures", "Outbound messages that failed for good", value=sends["failed"]
        )
        outbox = GaugeMetricFamily("whatsapp_outbox_pending", "Outbound messages not yet sent", labels=["status"])
        outbox.add_metric(["queued"], sends["queued"])
        outbox.add_metric(["sending"], sends["sending"])
        yield outbox
        yield GaugeMetricFamily(
            "whatsapp_inbound_unprocessed",
            "Customer messages older than 2 minutes (and younger than a day) the AI step has not taken",
            value=inbound_unhandled_count(now=timezone.now()),
        )
        yield GaugeMetricFamily(
            "whatsapp_inbound_unanswered",
            "Customer messages (of the last 7 days) no bot or operator message answered within a day",
            value=inbound_unanswered_count(now=timezone.now()),
        )
        yield CounterMetricFamily(
            "assistant_handoffs",
            "Chats the assistant handed to a manager (the customer was told)",
            value=handoff_count(),
        )
        handoffs = handoff_open_stats(now=timezone.now())
        open_ = GaugeMetricFamily(
            "assistant_handoffs_open",
            "Open hand-offs: waiting for a person's first answer, or answered (the humans have the chat)",
            labels=["state"],
        )
        open_.add_metric(["waiting"], handoffs["waiting"])
        open_.add_metric(["answered"], handoffs["answered"])
        yield open_
        yield GaugeMetricFamily(
            "assistant_handoffs_overdue",
            "Open hand-offs nobody answered within HANDOFF_ANSWER_MINUTES working minutes",
            value=handoffs["overdue"],
        )
        yield GaugeMetricFamily(
            "assistant_handoff_oldest_waiting_seconds",
            "Age of the oldest hand-off still waiting for a person's answer (0 when none)",
            value=handoffs["oldest_waiting_seconds"],
        )

    def _queues(self) -> Iterator[Any]:
        depths = queue_depths()
        reachable = all(depth is not None for depth in depths.values())
        yield GaugeMetricFamily(
            "celery_broker_up", "1 when the broker answered the queue depth query", value=int(reachable)
        )
        gauge = GaugeMetricFamily("celery_queue_length", "Tasks waiting in each Celery queue", labels=["queue"])
        for queue, depth in depths.items():
            if depth is not None:
                gauge.add_metric([queue], depth)
        yield gauge

    def _llm(self) -> Iterator[Any]:
        labels = ["backend", "model", "purpose"]
        calls = CounterMetricFamily("llm_calls", "Model calls (Gemini or the offline backend)", labels=labels)
        errors = CounterMetricFamily("llm_errors", "Model calls that failed", labels=labels)
        tokens = CounterMetricFamily("llm_tokens", "Tokens by kind (prompt includes cached)", labels=[*labels, "kind"])
        cost = CounterMetricFamily("llm_cost_usd", "Estimated cost of model calls, USD (LLM_PRICES)", labels=labels)
        latency = HistogramMetricFamily("llm_call_duration_seconds", "Latency of model calls", labels=labels)
        for row in model_call_totals(latency_buckets=LLM_LATENCY_BUCKETS):
            key = [row.backend, row.model, row.purpose]
            calls.add_metric(key, row.calls)
            errors.add_metric(key, row.errors)
            for kind, n in (
                ("prompt", row.prompt_tokens),
                ("cached", row.cached_tokens),
                ("output", row.output_tokens),
                ("thinking", row.thinking_tokens),
            ):
                tokens.add_metric([*key, kind], n)
            cost.add_metric(key, float(row.cost_usd))
            latency.add_metric(
                key,
                buckets=[
                    *((str(b), n) for b, n in zip(LLM_LATENCY_BUCKETS, row.latency_at_most, strict=True)),
                    ("+Inf", row.calls),
                ],
                sum_value=row.latency_seconds_total,
            )
        yield from (calls, errors, tokens, cost, latency)

    def _work(self) -> Iterator[Any]:
        followups = followup_counts(now=timezone.now())
        yield GaugeMetricFamily("followups_active", "Follow-up sequences still running", value=followups["active"])
        yield GaugeMetricFamily("followups_due", "Follow-up touches due now and not yet sent", value=followups["due"])
        yield GaugeMetricFamily(
            "llm_pending_replies",
            "Customers waiting for a real answer because the model was unavailable",
            value=pending_replies_waiting_count(),
        )

    def _wappi(self) -> Iterator[Any]:
        try:
            status = gateway_status()
        except Exception:
            log.warning("metrics.wappi_status_unavailable", exc_info=True)
            return
        yield GaugeMetricFamily(
            "wappi_up", "1 when Wappi is authorised and polling is healthy", value=int(status["status"] == "ok")
        )
        authorized = {True: 1, False: 0, None: -1}[status["authorized"]]
        yield GaugeMetricFamily(
            "wappi_authorized", "Wappi profile authorised: 1 yes, 0 no, -1 not checked yet", value=authorized
        )
        yield GaugeMetricFamily(
            "wappi_quarantined_chats", "Chats the poller skips after repeated errors", value=status["quarantined_chats"]
        )
        yield GaugeMetricFamily(
            "wappi_alarm", "1 while the quarantine alarm is raised", value=int(bool(status["quarantine_alarm"]))
        )
        for name, key, text in (
            ("wappi_last_poll_timestamp_seconds", "last_poll_at", "Last successful poll of Wappi (unix time, 0 never)"),
            ("wappi_last_webhook_timestamp_seconds", "last_webhook_at", "Last webhook from Wappi (unix time, 0 never)"),
        ):
            moment = datetime.fromisoformat(status[key]) if status[key] else None
            yield GaugeMetricFamily(name, text, value=_epoch(moment))

    def _number(self) -> Iterator[Any]:
        """The number-health card of the dashboard, as series (messaging.selectors.number_health)."""
        try:
            health = number_health(now=timezone.now())
        except Exception:
            log.warning("metrics.number_health_unavailable", exc_info=True)
            return
        paused = GaugeMetricFamily(
            "whatsapp_number_paused",
            "1 for the reason proactive sending from our number is paused now (number-safety governor)",
            labels=["reason"],
        )
        for reason in NUMBER_PAUSE_REASONS:
            paused.add_metric([reason], int(health.paused_reason == reason))
        yield paused
        for name, value, text in (
            ("whatsapp_number_sent_24h", health.sent_24h, "Messages our number sent in the last 24 hours"),
            ("whatsapp_number_received_24h", health.received_24h, "Messages customers sent us in the last 24 hours"),
            (
                "whatsapp_number_proactive_7d",
                health.proactive_sent_7d,
                "Proactive messages of the last week old enough to be answered (a day)",
            ),
            (
                "whatsapp_number_proactive_unanswered_7d",
                health.proactive_unanswered_7d,
                "Of those, the ones the contact never answered",
            ),
            (
                "whatsapp_number_unanswered_share",
                health.unanswered_share,
                "Unanswered share of the last week's proactive messages (0..1)",
            ),
            ("whatsapp_number_undelivered_24h", health.undelivered_24h, "Messages WhatsApp reported undelivered, 24 h"),
        ):
            yield GaugeMetricFamily(name, text, value=value)
        pauses = CounterMetricFamily(
            "whatsapp_number_pauses", "Times proactive sending was paused for the number's safety", labels=["reason"]
        )
        for labels, n in tally_counts(NUMBER_PAUSE_TALLY):
            pauses.add_metric([labels["reason"]], n)
        yield pauses
        yield CounterMetricFamily(
            "whatsapp_number_restriction_events",
            "Delivery statuses saying WhatsApp restricted or temporarily banned our number",
            value=health.restriction_events,
        )

    def _processes(self) -> Iterator[Any]:
        try:
            beats = heartbeat_status()
        except Exception:
            log.warning("metrics.heartbeat_unavailable", exc_info=True)
            return
        gauge = GaugeMetricFamily(
            "celery_heartbeat_timestamp_seconds",
            "When beat last sent, and a worker last ran, the heartbeat task (unix time, 0 never)",
            labels=["process"],
        )
        for process in ("beat", "worker"):
            seen = beats[process]["last_seen"]
            gauge.add_metric([process], _epoch(datetime.fromisoformat(seen) if seen else None))
        yield gauge
        yield GaugeMetricFamily(
            "celery_beat_instances",
            "Beat processes whose heartbeat a worker ran recently (more than 1 is a mistake)",
            value=beats["beat"].get("instances", 0),
        )

    def _calls(self) -> Iterator[Any]:
        gauge = GaugeMetricFamily("scheduled_calls", "Calls with a manager, by status", labels=["status"])
        for status, n in scheduled_call_totals_by_status().items():
            gauge.add_metric([status], n)
        yield gauge

    def _tallies(self) -> Iterator[Any]:
        """What workers and web processes counted in the cache (project.lib.tallies)."""
        try:
            wappi = tally_histogram(WAPPI_REQUEST_TALLY, buckets=WAPPI_LATENCY_BUCKETS)
            wappi_errors = tally_counts(WAPPI_ERROR_TALLY)
            tools = tally_counts(TOOL_CALLS_TALLY)
        except Exception:
            log.warning("metrics.tallies_unavailable", exc_info=True)
            return
        latency = HistogramMetricFamily(
            "wappi_request_duration_seconds",
            "Time Wappi took to answer (or a call took to fail), by API endpoint",
            labels=["endpoint"],
        )
        for row in wappi:
            latency.add_metric(
                [row.labels["endpoint"]],
                buckets=[
                    *((str(b), n) for b, n in zip(WAPPI_LATENCY_BUCKETS, row.at_most, strict=True)),
                    ("+Inf", row.count),
                ],
                sum_value=row.sum_seconds,
            )
        yield latency
        errors = CounterMetricFamily(
            "wappi_errors",
            "Failed Wappi calls by API endpoint and kind (transient, timeout, auth, not_configured, permanent)",
            labels=["endpoint", "error"],
        )
        for labels, n in wappi_errors:
            errors.add_metric([labels["endpoint"], labels["error"]], n)
        yield errors
        calls = CounterMetricFamily(
            "assistant_tool_calls",
            "The model's tool calls by tool and outcome (ok, refused, error)",
            labels=["tool", "outcome"],
        )
        for labels, n in tools:
            calls.add_metric([labels["tool"], labels["outcome"]], n)
        yield calls


def metrics_registry() -> CollectorRegistry:
    """A fresh registry per scrape: the product's state, and this server's requests (all
    processes' in multiprocess mode)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(HTTP_REQUESTS)
        registry.register(HTTP_LATENCY)
    registry.register(ProductCollector())
    return registry


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape endpoint: for a request with the metrics credentials (project.lib.access)."""
    refusal = metrics_refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)


# Mounted by project/urls.py as `path("metrics", include("project.metrics"))`.
urlpatterns = [path("", metrics, name="metrics")]
