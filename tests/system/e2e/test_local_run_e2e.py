"""`make run`'s infrastructure: SQLite and kombu's filesystem broker, with real processes.

Tasks and remote control (what Flower uses) cross from one process to another through the
broker folders; nothing here touches PostgreSQL or Redis.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from tests.processes import ROOT, clean_env

pytestmark = pytest.mark.e2e

DRIVER = """
import json, time, django
django.setup()
from django.core.cache import cache
from project.lib.heartbeat import HEARTBEAT_KEY
from project.celery import app
from project.tasks import heartbeat

deadline = time.monotonic() + 60
replies = None
while not replies and time.monotonic() < deadline:
    replies = app.control.inspect(timeout=2).active_queues()
heartbeat.delay()
while cache.get(HEARTBEAT_KEY) is None and time.monotonic() < deadline:
    time.sleep(0.2)
queues = sorted({q["name"] for node in (replies or {}).values() for q in node})
print(json.dumps({"queues": queues, "heartbeat": cache.get(HEARTBEAT_KEY)}))
"""


def local_env(var_dir) -> dict[str, str]:
    # Exactly what `make run` has: no DATABASE_URL, CELERY_BROKER_URL or CACHE_URL at all.
    return clean_env(DEBUG="true", VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="project.settings")


def test_a_task_and_remote_control_cross_processes_through_the_filesystem_broker(tmp_path):
    env = local_env(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "project", "worker", "--loglevel", "INFO"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        driver = subprocess.run(
            [sys.executable, "-c", DRIVER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        worker_log = worker.communicate(timeout=30)[0]

    assert driver.returncode == 0, driver.stderr
    outcome = json.loads(driver.stdout.strip().splitlines()[-1])
    assert outcome["queues"] == ["default", "ingest", "llm", "send"], worker_log
    assert outcome["heartbeat"] is not None, worker_log
    assert (tmp_path / "db.sqlite3").exists()
    assert (tmp_path / "broker" / "control").is_dir()


CONVERSATION = """
import json, django
django.setup()
from datetime import timedelta
from django.utils import timezone
from assistant.pipeline import incoming_process
from messaging.ingest import ingest_events
from messaging.models import Message
from messaging.wire import parse_webhook

def item(n, text):
    return {"wh_type": "incoming_message", "id": f"3EB0SQLITE{n:010d}", "type": "chat", "body": text,
            "from": "77012345678@c.us", "to": "77000000000@c.us", "chatId": "77012345678@c.us",
            "senderName": "Айгерим", "time": 1795410000 + n, "chat_type": "dialog", "is_me": False}

now = timezone.now()
ingest_events(events=parse_webhook({"messages": [item(1, "Здравствуйте!")]}), via="webhook", now=now)
# The same customer again, a second later: a known contact's row is updated this time.
ingest_events(events=parse_webhook({"messages": [item(2, "Сколько стоит бутыль 19 литров?")]}),
              via="webhook", now=now + timedelta(seconds=1))
newest = Message.objects.filter(direction="in").order_by("-pk").first()
outcome = incoming_process(message_id=newest.pk, now=now + timedelta(minutes=1))
replies = list(Message.objects.filter(direction="out").values_list("text", flat=True))
print(json.dumps({"stored": Message.objects.filter(direction="in").count(), "replies": replies}))
"""


def test_make_run_on_sqlite_stores_a_customers_messages_and_answers_them(tmp_path):
    """`make run` keeps its data in SQLite: a customer who writes twice is stored twice and
    answered from the demo knowledge base (ingest's batch statements must work there too)."""
    env = local_env(tmp_path) | {"LLM_BACKEND": "offline", "GEMINI_API_KEY": ""}
    for command in (["migrate", "--noinput"], ["load_knowledge_base"]):
        subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=180
        )
    run = subprocess.run(
        [sys.executable, "-c", CONVERSATION], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["stored"] == 2
    assert len(result["replies"]) == 1
    assert "1 200" in result["replies"][0]
