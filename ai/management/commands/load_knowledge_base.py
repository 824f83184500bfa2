from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ai.knowledge import (
    KnowledgeBusy,
    knowledge_file_load_safe,
    knowledge_lock,
    knowledge_paths,
    knowledge_prune,
    knowledge_refresh,
    knowledge_source,
)

# How long the command queues behind a refresh a worker is running.
LOCK_WAIT_SECONDS = 600.0


class Command(BaseCommand):
    help = "Index the PDFs of the knowledge base (KNOWLEDGE_BASE_PATH, or PATH: a folder or one PDF)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "path",
            nargs="?",
            help="a folder or a PDF (default: KNOWLEDGE_BASE_PATH, or the demo company when it holds no PDFs)",
        )

    def handle(self, *args, path: str | None = None, **options) -> None:
        root = Path(path) if path else knowledge_source()
        if not root.exists():
            raise CommandError(f"{root} does not exist")
        files = knowledge_paths(path=root)
        results = []
        try:
            # Never alongside a worker's refresh (the same files, the same rows).
            with knowledge_lock(wait=LOCK_WAIT_SECONDS):
                with tqdm(files, desc="knowledge base", unit="pdf", disable=not files) as bar:
                    for file in bar:
                        bar.set_postfix_str(file.name)
                        results.append(knowledge_file_load_safe(path=file))
                results.extend(knowledge_prune(path=root))
            if not path:
                # Also drops the demo company once the company's own PDFs are there.
                results.extend(r for r in knowledge_refresh(wait=LOCK_WAIT_SECONDS) if r.action == "removed")
        except KnowledgeBusy as exc:
            raise CommandError("another refresh of the knowledge base is still running; try again later") from exc
        for result in results:
            style = self.style.SUCCESS if result.status == "indexed" else self.style.WARNING
            self.stdout.write(style(result.summary()))
        indexed = sum(r.status == "indexed" and r.action != "removed" for r in results)
        self.stdout.write(f"{len(files)} file(s), {indexed} indexed")
