"""Loading the knowledge base safely: a poison PDF (a deflate bomb, a file that keeps pdfminer busy, too
many pages, too large) fails with a reason, in a child process the worker survives; the failure is kept
by the file's hash so the every-minute refresh does not retry it; good files beside it are indexed; and
two refreshes never run at once."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from ai.knowledge import knowledge_refresh
from ai.knowledge.services import KNOWLEDGE_REFRESH_LOCK
from ai.models import KnowledgeDocument
from ai.tasks import refresh_knowledge_base
from project.lib.locks import cache_lock
from tests.fixtures import DEMO_KNOWLEDGE
from tests.pdfs import pages_pdf, stream_pdf

pytestmark = pytest.mark.django_db

Status = KnowledgeDocument.Status


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def kb(tmp_path, settings) -> Path:
    settings.KNOWLEDGE_BASE_PATH = tmp_path
    settings.KNOWLEDGE_PDF_TIMEOUT_SECONDS = 60
    settings.KNOWLEDGE_PDF_MAX_MEMORY_MB = 160
    settings.KNOWLEDGE_PDF_MAX_PAGES = 5
    settings.KNOWLEDGE_PDF_MAX_FILE_MB = 2
    shutil.copy(DEMO_KNOWLEDGE / "pricing.pdf", tmp_path / "pricing.pdf")
    return tmp_path


def assert_failed_once(path: Path, *, reason: str) -> KnowledgeDocument:
    """The document of `path` failed for `reason`, recorded with the file's hash, and the next refresh
    leaves it alone (nothing re-read, the failure's time unchanged)."""
    document = KnowledgeDocument.objects.get(path=path.name)
    assert document.status == Status.FAILED
    assert reason in document.warnings
    assert document.sha256 == sha256(path)
    assert document.failed_at is not None
    assert not document.chunks.exists()

    again = {Path(r.path).name: r.action for r in knowledge_refresh()}
    assert again[path.name] == "unchanged"
    assert KnowledgeDocument.objects.get(pk=document.pk).failed_at == document.failed_at
    return document


def test_a_deflate_bomb_fails_on_the_memory_limit_and_the_good_file_beside_it_is_indexed(kb):
    bomb = stream_pdf(kb / "bomb.pdf", inflated_mb=500, unit=b" ")
    assert bomb.stat().st_size < 1024 * 1024  # a tiny file ...

    refresh_knowledge_base()  # ... and the worker that runs the refresh is still here

    assert_failed_once(bomb, reason="KNOWLEDGE_PDF_MAX_MEMORY_MB")
    pricing = KnowledgeDocument.objects.get(path="pricing.pdf")
    assert pricing.status == Status.INDEXED
    assert pricing.chunks.exists()


def test_a_pdf_that_keeps_the_parser_busy_is_stopped_at_the_time_limit(kb, settings):
    settings.KNOWLEDGE_PDF_TIMEOUT_SECONDS = 2
    settings.KNOWLEDGE_PDF_MAX_MEMORY_MB = 2048
    # 40 MB of drawing operators: valid, no text, and minutes of work for pdfminer.
    busy = stream_pdf(kb / "busy.pdf", inflated_mb=40, unit=b"1 0 0 1 0 0 cm\n")

    refresh_knowledge_base()

    assert_failed_once(busy, reason="KNOWLEDGE_PDF_TIMEOUT_SECONDS")
    assert KnowledgeDocument.objects.get(path="pricing.pdf").status == Status.INDEXED


def test_a_pdf_with_too_many_pages_fails_with_the_reason(kb):
    long = pages_pdf(kb / "long.pdf", pages=8)
    short = pages_pdf(kb / "short.pdf", pages=5)

    refresh_knowledge_base()

    assert_failed_once(long, reason="KNOWLEDGE_PDF_MAX_PAGES")
    assert KnowledgeDocument.objects.get(path=short.name).status == Status.INDEXED
    assert KnowledgeDocument.objects.get(path="pricing.pdf").status == Status.INDEXED


def test_a_file_over_the_size_limit_is_not_opened(kb):
    large = kb / "large.pdf"
    large.write_bytes((DEMO_KNOWLEDGE / "faq.pdf").read_bytes() + b"\n%" + b"0" * (3 * 1024 * 1024))

    refresh_knowledge_base()

    document = assert_failed_once(large, reason="KNOWLEDGE_PDF_MAX_FILE_MB")
    assert document.pages == 0


def test_a_failed_file_is_read_again_once_it_changes(kb):
    long = pages_pdf(kb / "long.pdf", pages=8)
    knowledge_refresh()
    assert KnowledgeDocument.objects.get(path="long.pdf").status == Status.FAILED

    pages_pdf(long, pages=3)  # the operator uploads a shorter version
    [result] = [r for r in knowledge_refresh() if r.path == "long.pdf"]

    assert result.action == "updated"
    document = KnowledgeDocument.objects.get(path="long.pdf")
    assert document.status == Status.INDEXED
    assert document.failed_at is None
    assert document.warnings == ""


def test_two_refreshes_never_run_at_once(kb):
    with cache_lock(KNOWLEDGE_REFRESH_LOCK, wait=0):  # another worker's refresh (beat, or an upload)
        outcome = refresh_knowledge_base()
        assert outcome == "busy"
        assert not KnowledgeDocument.objects.exists()

    assert refresh_knowledge_base() == "changed=1"
    assert KnowledgeDocument.objects.get(path="pricing.pdf").status == Status.INDEXED
