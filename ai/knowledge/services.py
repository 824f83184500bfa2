"""Loading PDFs into KnowledgeDocument / KnowledgeChunk rows (services write)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ai.knowledge.chunking import chunk_blocks
from ai.knowledge.extract import pdf_extract
from ai.models import KnowledgeChunk, KnowledgeDocument

logger = logging.getLogger(__name__)

DEMO_FOLDER = "demo"


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
    """Index one PDF. An unchanged file (same SHA-256, and not waiting for a newly entered password) is
    left alone; otherwise the document row is updated and its chunks replaced in one transaction."""
    key = document_key(path)
    sha = _sha256(path)
    document = KnowledgeDocument.objects.filter(path=key).first()
    if document is not None and document.sha256 == sha and not force:
        retry_password = document.status == KnowledgeDocument.Status.PASSWORD_REQUIRED and document.password
        if not retry_password:
            return _result(document, "unchanged")
    password = document.password if document is not None else ""
    extraction = pdf_extract(path=path, password=password)
    drafts = chunk_blocks(extraction.blocks) if extraction.status == KnowledgeDocument.Status.INDEXED else []
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
        document.save()
        document.chunks.all().delete()
        KnowledgeChunk.objects.bulk_create(
            KnowledgeChunk(document=document, position=d.position, heading=d.heading, text=d.text) for d in drafts
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
        document, _ = KnowledgeDocument.objects.update_or_create(
            path=document_key(path),
            defaults={"status": KnowledgeDocument.Status.FAILED, "warnings": f"{type(exc).__name__}: {exc}"},
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


def knowledge_refresh() -> list[LoadResult]:
    """Brings the index in line with `knowledge_source()` (run every minute by beat and at
    `make run`): new and changed files are indexed; when the company's own PDFs arrive, the
    demo company's documents are dropped."""
    source = knowledge_source()
    if not source.is_dir():
        return []
    results = knowledge_load(path=source)
    if source == _base():
        for document in KnowledgeDocument.objects.filter(path__startswith="demo/"):
            results.append(_result(document, "removed", chunks=0))
            document.delete()
    return results


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
