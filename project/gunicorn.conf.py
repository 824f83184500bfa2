"""gunicorn settings for the web service (Dockerfile, deploy/systemd/sales-assistant-web.service):
several worker processes share Prometheus request metrics through prometheus-client's multiprocess
files in PROMETHEUS_MULTIPROC_DIR, and gunicorn's own lines (its error log and the access log) go
through the product's logging: the same structured lines, secrets redacted and phone numbers masked,
the same LOG_FILE. Before it binds, the master runs the preflight (project/preflight.py) and refuses
to start, one line per problem, when static files are not collected or the database is not migrated."""

from __future__ import annotations

import os
import shutil
from typing import Any

# Only the web server's processes share metrics files (set before the app is imported).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/tmp/prometheus-web")  # noqa: S108 - the container's own /tmp

bind = "0.0.0.0:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = 4
timeout = 60
# The product's settings (project/settings.py, the same strict reading of the environment).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")


def _settings() -> Any:
    from django.conf import settings

    return settings


# X-Forwarded-Proto (and the other secure-scheme headers) only from the listed proxies
# (FORWARDED_ALLOW_IPS, default this machine): a client connecting directly cannot claim https.
forwarded_allow_ips = ",".join(_settings().FORWARDED_ALLOW_IPS)
# The product's LOGGING for the master and the workers alike: it names `gunicorn.error` and
# `gunicorn.access`, so gunicorn's plain handlers are replaced by ours.
logconfig_dict = _settings().LOGGING
# The path without the query string: a query can carry a secret (Wappi's ?secret=); the client
# address is the TCP peer (see FORWARDED_ALLOW_IPS for a proxy).
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss "%(a)s"'


def on_starting(server: Any) -> None:
    # Not ready to serve (no collectstatic, a migration not applied): stop here, before binding,
    # with the reason, rather than answer 500 later. Runs before the metrics folder is emptied
    # below, so nothing this check touched leaves files behind.
    from project.preflight import refuse_to_start_if_unready

    refuse_to_start_if_unready()
    # Files of a previous run would be summed into this one's counters.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
