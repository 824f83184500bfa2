"""Loading PDFs into KnowledgeDocument / KnowledgeChunk rows (services write)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from ai.knowledge.chunking import chunk_blocks
from ai.knowledge.isolation import PdfLimits, pdf_extract_isolated
from ai.models import KnowledgeChunk, KnowledgeDocument
from project.lib.locks import LockTimeout, cache_lock

logger = logging.getLogger(__name__)
log = structlog.get_logger(__name__)

DEMO_FOLDER = "demo"
# One refresh at a time (beat every minute, an upload, `load_knowledge_base`): the holder renews
# it while it works, a killed holder loses it within the ttl.
KNOWLEDGE_REFRESH_LOCK = "ai:knowledge-refresh"
REFRESH_LOCK_TTL = 60.0


class KnowledgeBusy(Exception):
    """Another refresh of the knowledge base is running."""


@contextmanager
def knowledge_lock(*, wait: float = 0.0) -> Iterator[None]:
    """Holds the knowledge base's refresh lock; KnowledgeBusy when another holder keeps it past `wait`."""
    stack = ExitStack()
    try:
        stack.enter_context(cache_lock(KNOWLEDGE_REFRESH_LOCK, ttl=REFRESH_LOCK_TTL, wait=wait, renew=True))
    except LockTimeout as exc:
        raise KnowledgeBusy from exc
    with stack:
        yield


def pdf_limits() -> PdfLimits:
    return PdfLimits(
        timeout_seconds=settings.KNOWLEDGE_PDF_TIMEOUT_SECONDS,
        max_memory_mb=settings.KNOWLEDGE_PDF_MAX_MEMORY_MB,
        max_pages=settings.KNOWLEDGE_PDF_MAX_PAGES,
        max_file_mb=settings.KNOWLEDGE_PDF_MAX_FILE_MB,
    )


@dataclass(frozen=True)
class LoadResult:
    path: str
    action: str  # created / updated / unchanged / removed
    status: str
    pages: int = 0
    characters: int = 0
    chunks: int = 0
    warnings: str = ""

    def summary(self) -> str:
        line = (
            f"{self.path}: {self.action}, {self.status}, pages {self.pages}, chars {self.characters}, "
            f"chunks {self.chunks}"
        )
        return f"{line}; warnings: {self.warnings.replace(chr(10), '; ')}" if self.warnings else line


def _base() -> Path:
    return Path(settings.KNOWLEDGE_BASE_PATH).resolve()


def document_key(path: Path) -> str:
    """The stored name: relative to KNOWLEDGE_BASE_PATH when the file is inside it, else absolute."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(_base()).as_posix()
    except ValueError:
        return resolved.as_posix()


def document_file(document: KnowledgeDocument) -> Path:
    path = Path(document.path)
    return path if path.is_absolute() else _base() / path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _title(path: Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ").strip().capitalize() or path.name


def _result(document: KnowledgeDocument, action: str, chunks: int | None = None) -> LoadResult:
    return LoadResult(
        path=document.path,
        action=action,
        status=document.status,
        pages=document.pages,
        characters=document.characters,
        chunks=document.chunks.count() if chunks is None else chunks,
        warnings=document.warnings,
    )


def knowledge_file_load(*, path: Path, force: bool = False) -> LoadResult:
    """Index one PDF. An unchanged file (same SHA-256, not waiting for a newly entered password, no
    re-index requested) is left alone, a failed one too: a poison file is read once per version.
    Otherwise the file is read in a child process under the KNOWLEDGE_PDF_* limits, and the document
    row updated and its chunks replaced in one transaction."""
    key = document_key(path)
    sha = _sha256(path)
    document = KnowledgeDocument.objects.filter(path=key).first()
    requested = document.index_requested_at if document is not None else None
    if document is not None and document.sha256 == sha and not force and requested is None:
        retry_password = document.status == KnowledgeDocument.Status.PASSWORD_REQUIRED and document.password
        if not retry_password:
            return _result(document, "unchanged")
    password = document.password if document is not None else ""
    extraction = pdf_extract_isolated(path=path, password=password, limits=pdf_limits())
    drafts = chunk_blocks(extraction.blocks) if extraction.status == KnowledgeDocument.Status.INDEXED else []
    failed = extraction.status == KnowledgeDocument.Status.FAILED
    with transaction.atomic():
        # get_or_create survives two loaders racing on a new file; the row lock serialises the rewrite.
        document, created = KnowledgeDocument.objects.select_for_update().get_or_create(
            path=key, defaults={"title": _title(path)}
        )
        document.sha256 = sha
        document.title = extraction.title or document.title or _title(path)
        document.pages = extraction.pages
        document.characters = extraction.characters
        document.status = extraction.status
        document.warnings = "\n".join(extraction.warnings)
        document.indexed_at = timezone.now() if drafts else None
        document.failed_at = timezone.now() if failed else None
        if document.index_requested_at == requested:  # a request made meanwhile waits for the next run
            document.index_requested_at = None
        document.save()
        document.chunks.all().delete()
        KnowledgeChunk.objects.bulk_create(
            KnowledgeChunk(document=document, position=d.position, heading=d.heading, text=d.text) for d in drafts
        )
    if failed:
        # Once per version of the file: the refresh does not read it again until it changes.
        log.warning(
            "knowledge.index_failed",
            document_id=document.pk,
            path=key,
            sha256=sha[:12],
            reason=extraction.warnings[-1] if extraction.warnings else "",
        )
    logger.info(
        "knowledge: %s %s (%s, %s chunks)", key, "created" if created else "updated", document.status, len(drafts)
    )
    return _result(document, "created" if created else "updated", chunks=len(drafts))


def knowledge_paths(*, path: Path | None = None) -> list[Path]:
    """The PDFs a load would look at: one file, or every *.pdf under a folder (default KNOWLEDGE_BASE_PATH)."""
    root = Path(path) if path is not None else _base()
    if root.is_file():
        return [root]
    if not root.is_dir():
        return []
    # The demo company's PDFs live in knowledge_base/demo: a real company's folder scan must not pick
    # them up (their prices would become "grounded"); load them by naming the folder.
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() == ".pdf" and DEMO_FOLDER not in p.relative_to(root).parts[:-1]
    )


def knowledge_file_load_safe(*, path: Path) -> LoadResult:
    """`knowledge_file_load`, but an unexpected error is recorded on the document as `failed`, not raised."""
    try:
        return knowledge_file_load(path=path)
    except Exception as exc:
        logger.exception("knowledge: cannot load %s", path)
        try:
            sha = _sha256(path)
        except OSError:
            sha = ""  # unreadable: tried again next time
        document, _ = KnowledgeDocument.objects.update_or_create(
            path=document_key(path),
            defaults={
                "status": KnowledgeDocument.Status.FAILED,
                "warnings": f"{type(exc).__name__}: {exc}",
                "sha256": sha,
                "failed_at": timezone.now(),
                "index_requested_at": None,
            },
        )
        return _result(document, "updated")


def knowledge_prune(*, path: Path | None = None) -> list[LoadResult]:
    """Delete the documents (and chunks) whose file is gone from the folder `path` (default KNOWLEDGE_BASE_PATH)."""
    root = Path(path) if path is not None else _base()
    if not root.is_dir():
        return []
    prefix = document_key(root)
    results = []
    for document in KnowledgeDocument.objects.all():
        if prefix == ".":
            inside = not Path(document.path).is_absolute()
        else:
            inside = document.path.startswith(prefix.rstrip("/") + "/")
        if inside and not document_file(document).exists():
            results.append(_result(document, "removed", chunks=0))
            document.delete()
    return results


def knowledge_load(*, path: Path | None = None) -> list[LoadResult]:
    """Bring the index in line with the files under `path` (a folder or one PDF; default
    KNOWLEDGE_BASE_PATH): new and changed PDFs are (re)indexed, unchanged ones cost a hash, documents
    whose file is gone from the folder are deleted. A file that fails is recorded as `failed`."""
    results = [knowledge_file_load_safe(path=file) for file in knowledge_paths(path=path)]
    return results + knowledge_prune(path=path)


def knowledge_source() -> Path:
    """What the assistant answers from: the company's own PDFs in KNOWLEDGE_BASE_PATH when there
    are any, else the demo company's (knowledge_base/demo) — never both."""
    return _base() if knowledge_paths() else _base() / "demo"


def knowledge_refresh(*, wait: float = 0.0) -> list[LoadResult]:
    """Brings the index in line with `knowledge_source()` (run every minute by beat and at
    `make run`): new and changed files are indexed; when the company's own PDFs arrive, the
    demo company's documents are dropped. One refresh at a time: KnowledgeBusy when another
    one keeps the lock for longer than `wait` seconds."""
    with knowledge_lock(wait=wait):
        return _refresh()


def _refresh() -> list[LoadResult]:
    source = knowledge_source()
    if not source.is_dir():
        return []
    results = knowledge_load(path=source)
    if source == _base():
        for document in KnowledgeDocument.objects.filter(path__startswith="demo/"):
            results.append(_result(document, "removed", chunks=0))
            document.delete()
    return results


def knowledge_upload(*, name: str, chunks: Iterable[bytes]) -> KnowledgeDocument:
    """Store an uploaded PDF in KNOWLEDGE_BASE_PATH and mark its document for indexing by the next
    refresh (the caller queues it): nothing of the file is read here. A new document waits as
    `queued`; a replaced one keeps answering from its current chunks until the refresh is done."""
    folder = _base()
    folder.mkdir(parents=True, exist_ok=True)
    clean = get_valid_filename(Path(name).name) or "document"
    destination = folder / (clean if clean.lower().endswith(".pdf") else f"{clean}.pdf")
    with destination.open("wb") as out:
        for piece in chunks:
            out.write(piece)
    document, _ = KnowledgeDocument.objects.get_or_create(
        path=document_key(destination),
        defaults={"title": _title(destination), "status": KnowledgeDocument.Status.QUEUED},
    )
    return knowledge_document_request_index(document=document)


def knowledge_document_request_index(*, document: KnowledgeDocument, password: str | None = None) -> KnowledgeDocument:
    """Ask the next refresh to read the document's file again (a re-index, a new file, or the
    operator's `password` for a protected file), even when its hash has not changed."""
    document.index_requested_at = timezone.now()
    fields = ["index_requested_at", "updated_at"]
    if password is not None:
        document.password = password
        fields.append("password")
    document.save(update_fields=fields)
    return document


def knowledge_document_reload(*, document: KnowledgeDocument) -> LoadResult:
    """Re-read one document's file now (an admin action), even when its hash has not changed."""
    file = document_file(document)
    if not file.exists():
        document.delete()
        return LoadResult(path=document.path, action="removed", status=document.status)
    return knowledge_file_load(path=file, force=True)


def knowledge_document_set_password(*, document: KnowledgeDocument, password: str) -> LoadResult:
    """Store the operator's password for a protected PDF and index the file with it."""
    document.password = password
    document.save(update_fields=["password", "updated_at"])
    return knowledge_document_reload(document=document)
