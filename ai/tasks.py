"""Model-library tasks (queue `llm`)."""

from __future__ import annotations

import structlog
from celery import shared_task

from ai.knowledge import knowledge_refresh

log = structlog.get_logger(__name__)


@shared_task(name="ai.refresh_knowledge_base", ignore_result=True)
def refresh_knowledge_base() -> str:
    """Every minute: PDFs dropped into KNOWLEDGE_BASE_PATH are answered from within a minute."""
    changed = [r for r in knowledge_refresh() if r.action != "unchanged"]
    if changed:
        log.info("knowledge.refreshed", changes=[r.summary() for r in changed])
    return f"changed={len(changed)}"
