"""Knowledge base benchmark (`make bench`): a 30-page price catalogue, indexed and searched."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from ai.knowledge import knowledge_load, knowledge_search
from ai.models import KnowledgeChunk
from tests.system.bench.util import record, report

pytestmark = [pytest.mark.bench, pytest.mark.django_db]

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
PAGES = 30


def catalogue(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(FONT))
    for page in range(PAGES):
        pdf.add_page()
        pdf.set_font("DejaVu", size=16)
        pdf.cell(0, 10, f"Раздел {page + 1}: оборудование серии «Тау-{page}»", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", size=10)
        pdf.multi_cell(
            0,
            5,
            "Описание: надёжное оборудование для офиса и дома, гарантия 12 месяцев, доставка по Алматы и Астане. " * 4,
            new_x="LMARGIN",
            new_y="NEXT",
        )
        for row in range(20):
            pdf.cell(120, 6, f"Модель Тау-{page}-{row:02d} (артикул TAU{page:02d}{row:02d})")
            pdf.cell(0, 6, f"{(page * 20 + row) * 150 + 9900:,} ₸".replace(",", " "), new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


@pytest.mark.skipif(not FONT.exists(), reason="DejaVu fonts are needed to generate the catalogue")
def test_index_time_and_retrieval_latency_of_a_30_page_knowledge_base(tmp_path, settings):
    settings.KNOWLEDGE_BASE_PATH = tmp_path
    catalogue(tmp_path / "catalogue.pdf")

    started = time.perf_counter()
    [result] = knowledge_load(path=tmp_path)
    index_seconds = time.perf_counter() - started
    assert result.status == "indexed"

    questions = [f"Сколько стоит модель Тау-{p}-{r:02d}?" for p in range(0, PAGES, 3) for r in (1, 7, 13, 19)]
    latencies, found = [], 0
    for question in questions:
        t = time.perf_counter()
        hits = knowledge_search(query=question, limit=3)
        latencies.append((time.perf_counter() - t) * 1000)
        wanted = question.split("модель ")[1].rstrip("?")
        found += any(wanted in hit.text for hit in hits)
    record("knowledge: index a 30-page catalogue", index_seconds, "s")
    record("knowledge: retrieval latency median", statistics.median(latencies), "ms")
    record("knowledge: recall@3 on model-number questions", found / len(questions), target=0.9, better="higher")
    report(
        f"knowledge base: {PAGES}-page catalogue (PostgreSQL full-text, russian)",
        [
            ("index time (extract + chunk + store)", f"{index_seconds:.2f} s, {KnowledgeChunk.objects.count()} chunks"),
            (
                "retrieval latency median / p95",
                f"{statistics.median(latencies):.1f} / {sorted(latencies)[int(len(latencies) * 0.95) - 1]:.1f} ms",
            ),
            ("recall@3 on model-number questions", f"{found}/{len(questions)} = {found / len(questions):.2f}"),
        ],
    )


def test_retrieval_cost_of_a_65k_character_message_is_bounded(demo_knowledge, monkeypatch):
    """A 65,000-character message of near-miss words: typo correction and the whole search with the
    bounds (after), and typo correction on a tenth of it with the bounds lifted (before: the cost
    grows with the length; the unbounded full-text query of such a message did not even build)."""
    from ai.knowledge import selectors
    from tests.ai.knowledge.test_selectors import near_miss_message

    message = near_miss_message(selectors.knowledge_vocabulary(), chars=65_000)
    started = time.perf_counter()
    selectors.with_typo_corrections(message)
    after_typos = time.perf_counter() - started
    started = time.perf_counter()
    knowledge_search(query=message, limit=8)
    after_search = time.perf_counter() - started

    tenth = message[:6_500]
    monkeypatch.setattr(selectors, "TYPO_MAX_WORDS", 10**9)
    started = time.perf_counter()
    selectors.with_typo_corrections(tenth)
    before_tenth = time.perf_counter() - started

    record("knowledge: typo correction, 65k-character message (bounded)", after_typos, "s")
    record("knowledge: search, 65k-character message (bounded)", after_search, "s")
    record("knowledge: typo correction, 6.5k characters (unbounded, before)", before_tenth, "s")
    report(
        "knowledge base: a 65,000-character message of near-miss words",
        [
            ("after: typo correction / whole search, 65,000 characters", f"{after_typos:.3f} / {after_search:.3f} s"),
            ("before: typo correction, 6,500 characters", f"{before_tenth:.2f} s (about x10 for the whole message)"),
        ],
    )
