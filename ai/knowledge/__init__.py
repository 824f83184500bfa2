"""The knowledge base: PDFs -> documents and chunks, search, and the text for the prompt.

Public API:
- `knowledge_load(*, path=None) -> list[LoadResult]`, `knowledge_file_load(*, path, force=False)`,
  `knowledge_document_reload(*, document)`, `knowledge_document_set_password(*, document, password)`
- `knowledge_refresh(*, wait=0)`: the folder -> the index, one run at a time (`KnowledgeBusy`);
  each PDF is read in a child process under the KNOWLEDGE_PDF_* limits (`ai.knowledge.isolation`)
- `knowledge_upload(*, name, chunks)`, `knowledge_document_request_index(*, document, password=None)`:
  store a file / ask for a re-index; the next refresh (queue it) reads the file
- `knowledge_search(*, query, limit=5) -> list[KnowledgeHit]`
- `knowledge_prompt_text(*, max_chars=30000) -> str`
- `knowledge_for_prompt(*, max_chars=30000) -> (str, bool)`: the same and whether anything is
  indexed, kept per process for one state of the base
- `knowledge_figures() -> frozenset[str]`: the figures the knowledge base states (number guard)
- `knowledge_prices() -> list[PriceRow]`: its price list (item, unit, amount), and
  `price_match(*, description, amount, prices) -> PriceMatch`: is an amount the listed price of
  what a description names (a quantity times a unit price counts)
"""

from __future__ import annotations

from ai.knowledge.prices import PriceMatch, PriceRow, price_match, price_rows
from ai.knowledge.selectors import (
    KnowledgeHit,
    knowledge_figures,
    knowledge_for_prompt,
    knowledge_prices,
    knowledge_prompt_text,
    knowledge_search,
)
from ai.knowledge.services import (
    KnowledgeBusy,
    LoadResult,
    knowledge_document_reload,
    knowledge_document_request_index,
    knowledge_document_set_password,
    knowledge_file_load,
    knowledge_file_load_safe,
    knowledge_load,
    knowledge_lock,
    knowledge_paths,
    knowledge_prune,
    knowledge_refresh,
    knowledge_source,
    knowledge_upload,
)

__all__ = [
    "KnowledgeBusy",
    "KnowledgeHit",
    "LoadResult",
    "PriceMatch",
    "PriceRow",
    "knowledge_document_reload",
    "knowledge_document_request_index",
    "knowledge_document_set_password",
    "knowledge_figures",
    "knowledge_file_load",
    "knowledge_file_load_safe",
    "knowledge_for_prompt",
    "knowledge_load",
    "knowledge_lock",
    "knowledge_paths",
    "knowledge_prices",
    "knowledge_prompt_text",
    "knowledge_prune",
    "knowledge_refresh",
    "knowledge_search",
    "knowledge_source",
    "knowledge_upload",
    "price_match",
    "price_rows",
]
