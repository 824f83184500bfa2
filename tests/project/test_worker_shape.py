"""The process shape `make run` (Procfile) and `docker compose` start: a worker for the short
work (ingest, send, default) and a model worker on the `llm` queue alone, on gevent with
PostgreSQL (threads on SQLite), its options decided in settings (`manage.py worker_options`)."""

from __future__ import annotations

import yaml

from tests.processes import ROOT, manage_clean

POSTGRES = "postgres://postgres@127.0.0.1:5432/whatsapp_agent"


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def options(shape: str, **env: str) -> str:
    result = manage_clean("worker_options", shape, DEBUG="true", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_make_run_starts_a_model_worker_beside_the_worker_for_short_work():
    processes = procfile()
    assert "worker_options main" in processes["worker"]
    assert "worker_options llm" in processes["worker-llm"]


def test_docker_compose_starts_both_worker_shapes():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert "worker_options main" in " ".join(services["worker"]["command"])
    assert "worker_options llm" in " ".join(services["worker-llm"]["command"])
    assert services["worker-llm"]["healthcheck"]["test"][-1] == "worker-llm"


def test_the_model_worker_takes_only_model_calls_on_gevent_with_postgresql():
    assert options("llm", DATABASE_URL=POSTGRES) == "-Q llm -n llm@%h -P gevent -c 200"
    assert options("main", DATABASE_URL=POSTGRES) == "-Q ingest,send,default -P threads -c 32"


def test_on_sqlite_or_by_choice_the_model_worker_falls_back_to_threads():
    assert options("llm") == "-Q llm -n llm@%h -P threads -c 32"
    assert options("llm", DATABASE_URL=POSTGRES, CELERY_LLM_POOL="threads") == "-Q llm -n llm@%h -P threads -c 32"
