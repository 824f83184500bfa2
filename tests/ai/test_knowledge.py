"""The knowledge base: PDF extraction (the 11 real-world fixtures), chunking, loading, search, prompt text."""

from __future__ import annotations

import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from ai.knowledge import (
    knowledge_document_set_password,
    knowledge_load,
    knowledge_prompt_text,
    knowledge_search,
)
from ai.knowledge.chunking import CHUNK_MAX_CHARS, chunk_blocks
from ai.knowledge.extract import Block, pdf_extract
from ai.knowledge.selectors import _keyword_search
from ai.models import KnowledgeChunk, KnowledgeDocument
from tests.fixtures import DEMO_KNOWLEDGE

pytestmark = pytest.mark.django_db

FIXTURES = Path("/work/shared/testdata/pdfs")
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
Status = KnowledgeDocument.Status

EXPECTED_STATUS = {
    "jo.pdf": Status.INDEXED,
    "issue_566_test_2.pdf": Status.INDEXED,
    "issue-791-non-unicode-cmap.pdf": Status.INDEXED,
    "issue-625-identity-cmap.pdf": Status.INDEXED,
    "2b.pdf": Status.INDEXED,
    "pr-00530-ml-lines.pdf": Status.INDEXED,
    "rc4-128.pdf": Status.PASSWORD_REQUIRED,
    "aes-256-r6.pdf": Status.PASSWORD_REQUIRED,
    "encrypted_doc_no_id.pdf": Status.NO_TEXT_LAYER,
    "pdf-with-jbig2.pdf": Status.NO_TEXT_LAYER,
    "zen_of_python_corrupted.pdf": Status.INDEXED,
}
EXPECTED_TEXT = {
    "jo.pdf": "わたくしといふ現象は",
    "issue_566_test_2.pdf": "甲方：中国饮料有限公司（盖章）",
    "issue-791-non-unicode-cmap.pdf": "Peněžní prostředky na účtech",
    "issue-625-identity-cmap.pdf": "Termin płatności: 2021-05-03",
    "2b.pdf": "1,406,164.00",
    "pr-00530-ml-lines.pdf": "Federal Aviation Administration",
    "zen_of_python_corrupted.pdf": "Namespaces are one honking great idea",
}

# The labelled question set for the demo knowledge base: question -> a substring of the right chunk.
LABELLED_QUESTIONS = [
    ("Сколько стоит доставка по Алматы?", "Доставка по Алматы | рейс | 1 500 ₸"),
    ("Какой залог за бутыль 19 литров?", "Залог за бутыль 19 л"),
    ("Сколько стоит кулер Тау-2?", "69 900 ₸"),
    ("В какие часы работает доставка?", "с 9:00 до 20:00"),
    ("Можно оплатить через Kaspi?", "переводом Kaspi"),
    ("Можно ли вернуть кулер после покупки?", "в течение 14 дней"),
    ("Вы доставляете в Бесагаш?", "Бесагаш"),
    ("Есть ли сертификат на вашу воду?", "сертифицирована"),
    ("Как часто нужна санитарная обработка кулера?", "раз в 6 месяцев"),
    ("Какая минерализация у воды?", "минерализация 180-250"),
    ("Будет скидка, если заказать много бутылей?", "Скидка 10%"),
    ("Что делать с пустыми бутылями?", "Курьер забирает пустые"),
    ("Сколько стоит электрическая помпа?", "5 900 ₸"),
    ("Работаете с компаниями по договору с НДС?", "заключаем договор"),
    ("Қазақша жауап бересіз бе? На каком языке можно общаться?", "казахском"),
]
RECALL_FLOOR = 0.8


@pytest.fixture
def kb(tmp_path, settings) -> Path:
    settings.KNOWLEDGE_BASE_PATH = tmp_path
    return tmp_path


@pytest.fixture
def fixtures_kb(kb) -> Path:
    for name in EXPECTED_STATUS:
        shutil.copy(FIXTURES / name, kb / name)
    return kb


@pytest.fixture
def demo_kb(kb) -> Path:
    for name in ("product_info.pdf", "pricing.pdf", "faq.pdf"):
        shutil.copy(DEMO_KNOWLEDGE / name, kb / name)
    knowledge_load()
    return kb


def make_pdf(path: Path, paragraphs: list[str]) -> Path:
    fpdf = pytest.importorskip("fpdf")
    if not FONT.exists():
        pytest.skip("DejaVu Sans is not installed")
    pdf = fpdf.FPDF()
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.add_page()
    pdf.set_font("DejaVu", "", 12)
    for text in paragraphs:
        pdf.multi_cell(0, 7, text, align="L")
        pdf.ln(5)
    pdf.output(str(path))
    return path


def document_text(document: KnowledgeDocument) -> str:
    return "\n".join(document.chunks.order_by("position").values_list("text", flat=True))


# --- the 11 real-world PDFs ------------------------------------------------------------------------------


def test_every_fixture_pdf_ends_in_its_status_without_crashing(fixtures_kb):
    results = knowledge_load()

    assert {Path(r.path).name: r.status for r in results} == EXPECTED_STATUS
    for name, expected in EXPECTED_TEXT.items():
        document = KnowledgeDocument.objects.get(path=name)
        assert expected in document_text(document), name
        assert document.indexed_at is not None
        assert document.pages >= 1
        assert document.characters > 0


def test_image_only_pdfs_are_flagged_for_ocr_and_not_indexed_empty(fixtures_kb):
    knowledge_load()

    for name in ("encrypted_doc_no_id.pdf", "pdf-with-jbig2.pdf"):
        document = KnowledgeDocument.objects.get(path=name)
        assert document.status == Status.NO_TEXT_LAYER
        assert "OCR" in document.warnings
        assert not document.chunks.exists()
    assert KnowledgeDocument.objects.get(path="encrypted_doc_no_id.pdf").pages == 3


def test_a_damaged_stream_is_recovered_and_the_warning_kept(fixtures_kb):
    knowledge_load()

    document = KnowledgeDocument.objects.get(path="zen_of_python_corrupted.pdf")
    assert document.status == Status.INDEXED
    assert "Data-loss while decompressing corrupted data" in document.warnings
    assert document_text(document).startswith("Mai 30, 18 13:27")


def test_an_encrypted_file_with_an_empty_password_opens_without_one(fixtures_kb):
    knowledge_load()

    document = KnowledgeDocument.objects.get(path="issue-625-identity-cmap.pdf")
    assert document.status == Status.INDEXED
    assert document.password == ""


@pytest.mark.parametrize(
    ("name", "password", "text"),
    [
        ("rc4-128.pdf", "foo", "Secret!"),
        ("rc4-128.pdf", "baz", "Secret!"),
        ("aes-256-r6.pdf", "usersecret", "Hello World"),
        ("aes-256-r6.pdf", "ownersecret", "Hello World"),
    ],
)
def test_a_protected_pdf_is_indexed_once_its_password_is_entered(kb, name, password, text):
    shutil.copy(FIXTURES / name, kb / name)
    knowledge_load()
    document = KnowledgeDocument.objects.get(path=name)
    assert document.status == Status.PASSWORD_REQUIRED

    result = knowledge_document_set_password(document=document, password=password)

    document.refresh_from_db()
    assert result.status == document.status == Status.INDEXED
    assert text in document_text(document)


def test_a_pending_password_is_also_picked_up_by_the_next_load(kb):
    shutil.copy(FIXTURES / "rc4-128.pdf", kb / "rc4-128.pdf")
    knowledge_load()
    KnowledgeDocument.objects.filter(path="rc4-128.pdf").update(password="foo")

    (result,) = knowledge_load()

    assert result.status == Status.INDEXED


def test_a_wrong_password_leaves_the_document_waiting(kb):
    shutil.copy(FIXTURES / "aes-256-r6.pdf", kb / "aes-256-r6.pdf")
    knowledge_load()
    document = KnowledgeDocument.objects.get()

    result = knowledge_document_set_password(document=document, password="nope")

    assert result.status == Status.PASSWORD_REQUIRED
    assert "wrong password" in result.warnings


def test_multi_column_prose_is_not_glued_into_table_rows():
    extraction = pdf_extract(path=FIXTURES / "pr-00530-ml-lines.pdf")

    assert not [block for block in extraction.blocks if block.kind == "table"]


# --- Cyrillic and Kazakh, loading, chunking ---------------------------------------------------------------


def test_cyrillic_and_kazakh_letters_survive_the_round_trip(kb):
    text = "Сәлеметсіз бе! Біз сізге көмектесеміз: әғқңөұүһі ӘҒҚҢӨҰҮҺІ. Ёлка, щука, ъ и ь."
    make_pdf(kb / "kk.pdf", [text])

    (result,) = knowledge_load()

    assert result.status == Status.INDEXED
    assert text in document_text(KnowledgeDocument.objects.get())


def test_reloading_an_unchanged_file_does_nothing(demo_kb):
    before = list(KnowledgeChunk.objects.order_by("pk").values_list("pk", "text"))
    indexed_at = dict(KnowledgeDocument.objects.values_list("path", "indexed_at"))

    results = knowledge_load()

    assert {r.action for r in results} == {"unchanged"}
    assert list(KnowledgeChunk.objects.order_by("pk").values_list("pk", "text")) == before
    assert dict(KnowledgeDocument.objects.values_list("path", "indexed_at")) == indexed_at


def test_a_changed_file_replaces_its_chunks(kb):
    path = make_pdf(kb / "offer.pdf", ["Старое предложение: доставка 1 000 ₸."])
    knowledge_load()
    old_ids = set(KnowledgeChunk.objects.values_list("pk", flat=True))

    make_pdf(path, ["Новое предложение: доставка 2 000 ₸."])
    (result,) = knowledge_load()

    document = KnowledgeDocument.objects.get()
    assert result.action == "updated"
    assert "Новое предложение" in document_text(document)
    assert "Старое" not in document_text(document)
    assert not old_ids & set(KnowledgeChunk.objects.values_list("pk", flat=True))


def test_a_removed_file_drops_its_document_and_chunks(demo_kb):
    (demo_kb / "faq.pdf").unlink()

    results = knowledge_load()

    assert [r.path for r in results if r.action == "removed"] == ["faq.pdf"]
    assert not KnowledgeDocument.objects.filter(path="faq.pdf").exists()
    assert KnowledgeDocument.objects.count() == 2


def test_the_price_table_keeps_each_item_and_its_price_on_one_line_in_one_chunk(demo_kb):
    chunk = KnowledgeChunk.objects.get(document__path="pricing.pdf", text__contains="Доставка по Алматы |")

    lines = chunk.text.splitlines()
    assert "Доставка по Алматы | рейс | 1 500 ₸" in lines
    assert "Вода 19 л (бутыль) | шт. | 1 200 ₸" in lines
    assert "Наименование | Ед. | Цена" in lines


def test_chunks_respect_headings_and_size():
    long_paragraph = ("Предложение о доставке воды. " * 120).strip()
    rows = tuple(f"Товар {i} | шт. | {i} 000 ₸" for i in range(100))
    blocks = [
        Block(kind="heading", lines=("Раздел 1",)),
        Block(kind="paragraph", lines=(long_paragraph[:1000], long_paragraph[1000:])),
        Block(kind="heading", lines=("Прайс",)),
        Block(kind="table", lines=rows),
    ]

    chunks = chunk_blocks(blocks)

    assert all(len(c.text) <= CHUNK_MAX_CHARS for c in chunks)
    assert {c.heading for c in chunks} == {"Раздел 1", "Прайс"}
    table_lines = [line for c in chunks if c.heading == "Прайс" for line in c.text.splitlines()]
    assert table_lines == list(rows)
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_the_command_prints_a_summary_per_document(kb):
    shutil.copy(DEMO_KNOWLEDGE / "pricing.pdf", kb / "pricing.pdf")
    shutil.copy(FIXTURES / "rc4-128.pdf", kb / "rc4-128.pdf")
    out = StringIO()

    call_command("load_knowledge_base", str(kb), stdout=out, stderr=StringIO())

    text = out.getvalue()
    assert "pricing.pdf: created, indexed, pages 1" in text
    assert "rc4-128.pdf: created, password_required" in text
    assert "2 file(s), 1 indexed" in text


def test_a_folder_scan_skips_the_demo_subfolder_unless_it_is_named(kb):
    (kb / "demo").mkdir()
    shutil.copy(DEMO_KNOWLEDGE / "faq.pdf", kb / "demo" / "faq.pdf")
    shutil.copy(DEMO_KNOWLEDGE / "pricing.pdf", kb / "pricing.pdf")

    assert [r.path for r in knowledge_load()] == ["pricing.pdf"]
    assert [r.path for r in knowledge_load(path=kb / "demo")] == ["demo/faq.pdf"]
    assert {r.action for r in knowledge_load()} == {"unchanged"}
    assert KnowledgeDocument.objects.count() == 2


# --- search and prompt text -------------------------------------------------------------------------------


def recall_at_3(search) -> float:
    found = 0
    for question, expected in LABELLED_QUESTIONS:
        hits = search(query=question, limit=3)
        if any(expected in hit.text for hit in hits):
            found += 1
        else:
            print(f"  miss ({search.__name__}): {question!r} -> {[hit.heading for hit in hits]}")  # noqa: T201 - the report
    return found / len(LABELLED_QUESTIONS)


def test_retrieval_finds_the_right_chunk_for_the_labelled_questions(demo_kb):
    full_text = recall_at_3(knowledge_search)
    keywords = recall_at_3(_keyword_search)

    print(f"\nrecall@3 ({len(LABELLED_QUESTIONS)} questions): search {full_text:.2f}, keywords {keywords:.2f}")  # noqa: T201
    assert full_text >= RECALL_FLOOR
    assert keywords >= RECALL_FLOOR


TYPO_QUESTIONS = [
    ("Сколько стоит доствка по Алмате?", "Доставка по Алматы | рейс | 1 500 ₸"),
    ("Какой залок за бутиль?", "Залог за бутыль 19 л"),
    ("сколко стоит кулир?", "69 900 ₸"),
    ("Можно аплатить через каспи?", "переводом Kaspi"),
    ("Есть сертефикат на ваду?", "сертифицирована"),
    ("как часто санитарная обрабтка", "раз в 6 месяцев"),
    ("какая минерализацыя", "минерализация 180-250"),
    ("Сколько стоит електрическая помпа?", "5 900 ₸"),
    ("Что делать с пустыми бутылкаи?", "Курьер забирает пустые"),
    ("договр с ндс заключаете?", "заключаем договор"),
]


def test_misspelt_questions_still_find_their_chunk(demo_kb, monkeypatch):
    from ai.knowledge import selectors

    def recall(questions):
        return sum(any(want in hit.text for hit in knowledge_search(query=q, limit=3)) for q, want in questions)

    # Correct words are never rewritten; only unknown ones get a neighbour appended.
    assert selectors.with_typo_corrections("доставка по Алматы") == "доставка по Алматы"
    assert selectors.with_typo_corrections("кулир") == "кулир кулер"
    corrected = recall(TYPO_QUESTIONS)
    monkeypatch.setattr(selectors, "with_typo_corrections", lambda query: query)
    uncorrected = recall(TYPO_QUESTIONS)

    print(f"\nrecall@3 on {len(TYPO_QUESTIONS)} misspelt questions: {corrected} (without correction {uncorrected})")  # noqa: T201
    assert corrected >= 9
    assert corrected > uncorrected


def test_search_returns_hits_with_text_heading_title_and_score(demo_kb):
    (hit,) = knowledge_search(query="доставка Алматы цена", limit=1)

    assert "1 500 ₸" in hit.text
    assert hit.document_title == "Прайс-лист"
    assert hit.score > 0
    assert hit.excerpt == "Доставка по Алматы | рейс | 1 500 ₸"
    assert knowledge_search(query="   ") == []
    assert knowledge_search(query="xyzzy квазар") == []


def test_search_ignores_documents_that_are_not_indexed(demo_kb):
    KnowledgeDocument.objects.update(status=Status.FAILED)

    assert knowledge_search(query="доставка") == []
    assert knowledge_prompt_text() == ""


def test_prompt_text_holds_the_whole_small_knowledge_base(demo_kb):
    text = knowledge_prompt_text()

    assert "=== Прайс-лист ===" in text
    assert "=== Частые вопросы ===" in text
    assert "Доставка по Алматы | рейс | 1 500 ₸" in text
    assert "## Как можно оплатить?" in text
    assert knowledge_prompt_text(max_chars=500) == ""


def test_prompt_text_is_empty_without_documents(kb):
    assert knowledge_prompt_text() == ""


@pytest.mark.django_db
def test_the_demo_company_is_used_only_until_the_companys_own_pdfs_arrive(tmp_path, settings):
    import shutil

    from ai.knowledge import knowledge_refresh
    from ai.models import KnowledgeDocument

    demo = DEMO_KNOWLEDGE
    settings.KNOWLEDGE_BASE_PATH = tmp_path
    shutil.copytree(demo, tmp_path / "demo")
    knowledge_refresh()
    assert set(KnowledgeDocument.objects.values_list("path", flat=True)) == {
        "demo/faq.pdf",
        "demo/pricing.pdf",
        "demo/product_info.pdf",
    }

    shutil.copy(demo / "pricing.pdf", tmp_path / "our_prices.pdf")  # the company's own file appears
    knowledge_refresh()
    assert list(KnowledgeDocument.objects.values_list("path", flat=True)) == ["our_prices.pdf"]


@pytest.mark.django_db
def test_a_product_code_finds_the_chunk_that_contains_it_exactly():
    from ai.knowledge import knowledge_search
    from ai.models import KnowledgeChunk, KnowledgeDocument

    document = KnowledgeDocument.objects.create(path="catalogue.pdf", title="Каталог", status="indexed")
    for position in range(12):
        rows = "\n".join(f"Модель Тау-{position}-{row:02d} | {9900 + row * 150} ₸" for row in range(20))
        KnowledgeChunk.objects.create(document=document, position=position, heading="Каталог", text=rows)
    [best, *_] = knowledge_search(query="Сколько стоит модель Тау-7-13?", limit=3)
    assert "Тау-7-13 |" in best.text
    assert best.excerpt.startswith("Модель Тау-7-13")
