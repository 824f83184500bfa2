"""gunicorn settings for the web service (Dockerfile): several worker processes share Prometheus
request metrics through prometheus-client's multiprocess files in PROMETHEUS_MULTIPROC_DIR."""

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
accesslog = "-"
forwarded_allow_ips = "*"


def on_starting(server: Any) -> None:
    # Files of a previous run would be summed into this one's counters.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
