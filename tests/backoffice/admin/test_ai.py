"""The AI admin (backoffice.admin.ai): model calls and the audit trail are read-only records, prompts
get new versions (never edited ones), the offline mode says so, and a PDF uploaded to the knowledge
base is stored and queued (a worker indexes it; the result and a failure's reason show here)."""

from __future__ import annotations

import html

import pytest
from django.contrib.admin import helpers
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from ai.models import (
    ClassificationRecord,
    KnowledgeDocument,
    ModelCall,
    PendingReply,
    PromptOverride,
    ReplyDecision,
)
from ai.prompts import prompt_file, prompt_get
from ai.tasks import refresh_knowledge_base
from backoffice.admin.ai import OFFLINE_BANNER
from tests.factories import ContactFactory, InboundMessageFactory
from tests.fixtures import DEMO_KNOWLEDGE
from tests.pdfs import pages_pdf

pytestmark = pytest.mark.django_db


@pytest.fixture
def records():
    contact = ContactFactory(business_name="ТОО Стройком")
    call = ModelCall.objects.create(
        backend="gemini",
        purpose="classify",
        model="gemini-3.5-flash-lite",
        contact=contact,
        prompt_name="moderator_prompt",
        prompt_version="file:0123abcd",
        prompt_tokens=1200,
        cached_tokens=1000,
        output_tokens=30,
        thinking_tokens=50,
        cost_usd="0.00029",
        latency_ms=840,
    )
    ClassificationRecord.objects.create(
        contact=contact, source="model", is_client=True, confidence=0.9, request_type="sales", model_call=call
    )
    PendingReply.objects.create(
        contact=contact, message=InboundMessageFactory(contact=contact), due_at=timezone.now(), last_error="503"
    )
    PromptOverride.objects.create(name="moderator_prompt", text="Версия оператора", note="короче")
    ReplyDecision.objects.create(
        contact=contact,
        backend="offline",
        tool_calls=[{"name": "book_call", "args": {"start": "2026-11-27T11:00"}, "response": {"ok": True}}],
        compose_result="clean",
        text="Готово, созвон назначен",
    )
    return contact


def urls(model, obj) -> dict[str, str]:
    meta = model._meta
    return {
        "changelist": reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
        "add": reverse(f"admin:{meta.app_label}_{meta.model_name}_add"),
        "change": reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]),
    }


@pytest.mark.parametrize("model", [ModelCall, ClassificationRecord, PendingReply, PromptOverride, ReplyDecision])
def test_the_list_and_the_detail_page_render_for_a_superuser(admin_client, records, model):
    pages = urls(model, model.objects.get())

    assert admin_client.get(pages["changelist"]).status_code == 200
    assert admin_client.get(pages["change"]).status_code == 200


@pytest.mark.parametrize("model", [ModelCall, ClassificationRecord, PendingReply, ReplyDecision])
def test_records_cannot_be_added_or_edited(admin_client, records, model):
    pages = urls(model, model.objects.get())

    assert admin_client.get(pages["add"]).status_code == 403
    detail = admin_client.get(pages["change"])
    assert detail.context["has_change_permission"] is False
    assert 'name="_save"' not in detail.content.decode()


def test_the_reply_decision_list_names_the_tools_called(admin_client, records):
    page = admin_client.get(reverse("admin:ai_replydecision_changelist")).content.decode()

    assert "book_call" in page


def test_the_model_call_list_shows_tokens_cost_and_prompt_version(admin_client, records):
    page = admin_client.get(reverse("admin:ai_modelcall_changelist")).content.decode()

    for value in ("file:0123abcd", "1200", "1000", "840", "gemini-3.5-flash-lite", "Классификация"):
        assert value in page


def test_model_calls_are_filtered_by_purpose_and_model(admin_client, records):
    ModelCall.objects.create(backend="offline", purpose="reply", model="rules")
    url = reverse("admin:ai_modelcall_changelist")

    by_purpose = admin_client.get(url, {"purpose__exact": "reply"}).context["cl"].result_list
    by_model = admin_client.get(url, {"model": "gemini-3.5-flash-lite"}).context["cl"].result_list

    assert [call.model for call in by_purpose] == ["rules"]
    assert [call.purpose for call in by_model] == ["classify"]


def test_only_a_superuser_may_delete_a_model_call(client, admin_client, django_user_model, records):
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user(username="operator", password="pw", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="ai"))
    client.force_login(staff)
    delete_url = reverse("admin:ai_modelcall_delete", args=[ModelCall.objects.get().pk])

    assert client.get(reverse("admin:ai_modelcall_changelist")).status_code == 200
    assert client.get(delete_url).status_code == 403
    assert admin_client.get(delete_url).status_code == 200


def test_the_offline_mode_is_announced_on_the_model_call_list(admin_client, settings):
    settings.LLM_BACKEND = "offline"

    page = admin_client.get(reverse("admin:ai_modelcall_changelist")).content.decode()

    assert f'<li class="info">{OFFLINE_BANNER}</li>' in page
    assert page.count(OFFLINE_BANNER) == 1


def test_with_gemini_there_is_no_offline_banner(admin_client, settings):
    settings.LLM_BACKEND = "gemini"

    page = admin_client.get(reverse("admin:ai_modelcall_changelist")).content.decode()

    assert OFFLINE_BANNER not in page


# --- prompt versions ---------------------------------------------------------------------------------------


def test_the_add_form_starts_from_the_text_in_effect(admin_client):
    url = reverse("admin:ai_promptoverride_add")

    from_file = admin_client.get(url, {"name": "moderator_prompt"})
    PromptOverride.objects.create(name="sales_agent_prompt", text="Версия оператора {knowledge_base}")
    from_override = admin_client.get(url, {"name": "sales_agent_prompt"})

    assert from_file.context["adminform"].form.initial["text"] == prompt_file("moderator_prompt").text
    assert from_file.context["adminform"].form.initial["name"] == "moderator_prompt"
    assert html.escape(prompt_file("moderator_prompt").text.splitlines()[0]) in from_file.content.decode()
    assert from_override.context["adminform"].form.initial["text"] == "Версия оператора {knowledge_base}"


def test_the_add_form_without_a_name_links_to_each_prompts_current_text(admin_client):
    page = admin_client.get(reverse("admin:ai_promptoverride_add")).content.decode()

    for value in PromptOverride.Name.values:
        assert f"?name={value}" in page
    assert "Начать с действующего текста" in page


def test_adding_a_version_records_its_author_and_puts_it_in_effect(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:ai_promptoverride_add"),
        {
            "name": "moderator_prompt",
            "text": "Ты модератор [НАЗВАНИЕ КОМПАНИИ].\r\n\r\nОтвечай JSON.\r\n",
            "note": "тест",
        },
    )

    assert response.status_code == 302
    row = PromptOverride.objects.get()
    assert (row.created_by, row.is_active, row.note) == (admin_user, True, "тест")
    assert prompt_get("moderator_prompt").text == "Ты модератор [НАЗВАНИЕ КОМПАНИИ].\n\nОтвечай JSON."
    assert prompt_get("moderator_prompt").version == f"db:{row.pk}"


def test_a_version_without_the_codes_placeholders_is_saved_with_a_warning(admin_client):
    response = admin_client.post(
        reverse("admin:ai_promptoverride_add"),
        {"name": "sales_agent_prompt", "text": "Продавай. Телефон: {phone}", "note": ""},
        follow=True,
    )

    page = response.content.decode()
    assert PromptOverride.objects.count() == 1
    assert "{knowledge_base}" in page


def test_an_existing_version_is_history_except_its_active_flag(admin_client, records):
    row = PromptOverride.objects.get()
    url = reverse("admin:ai_promptoverride_change", args=[row.pk])
    page = admin_client.get(url)
    assert list(page.context["adminform"].form.fields) == ["is_active"]

    admin_client.post(url, {"is_active": "", "text": "подмена", "name": "follow_up_prompt", "note": "x"})

    row.refresh_from_db()
    assert (row.is_active, row.text, row.name, row.note) == (False, "Версия оператора", "moderator_prompt", "короче")


def test_the_list_marks_the_version_in_effect(admin_client):
    older = PromptOverride.objects.create(name="moderator_prompt", text="старая")
    newer = PromptOverride.objects.create(name="moderator_prompt", text="новая")

    rows = {
        row.pk: row for row in admin_client.get(reverse("admin:ai_promptoverride_changelist")).context["cl"].result_list
    }

    assert rows[newer.pk].effective_pk == newer.pk
    assert rows[older.pk].effective_pk == newer.pk


def test_the_revert_action_puts_the_file_back_for_the_selected_prompts(admin_client):
    old = PromptOverride.objects.create(name="moderator_prompt", text="старая")
    new = PromptOverride.objects.create(name="moderator_prompt", text="новая")
    sales = PromptOverride.objects.create(name="sales_agent_prompt", text="продажи")

    response = admin_client.post(
        reverse("admin:ai_promptoverride_changelist"),
        {"action": "revert_to_file", helpers.ACTION_CHECKBOX_NAME: [new.pk]},
        follow=True,
    )

    assert "Снова действует текст из файла: Модератор." in response.content.decode()
    assert set(PromptOverride.objects.filter(is_active=True)) == {sales}
    assert {old.pk, new.pk} <= set(PromptOverride.objects.filter(is_active=False).values_list("pk", flat=True))
    assert prompt_get("moderator_prompt").version.startswith("file:")


def test_an_operator_uploads_a_pdf_and_a_worker_indexes_it(
    admin_client, tmp_path, settings, published, django_capture_on_commit_callbacks
):
    settings.KNOWLEDGE_BASE_PATH = tmp_path
    pricing = (DEMO_KNOWLEDGE / "pricing.pdf").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/ai/knowledgedocument/add/", {"file": SimpleUploadedFile("Прайс 2026.pdf", pricing)}, follow=True
        )

    # The request only stores the file and queues the indexing: the page says so.
    assert response.status_code == 200
    assert "поставлен в очередь на индексацию" in response.content.decode()
    document = KnowledgeDocument.objects.get()
    assert (tmp_path / document.path).read_bytes() == pricing
    assert document.status == "queued"
    assert not document.chunks.exists()
    assert published == ["ai.refresh_knowledge_base"]
    listing = admin_client.get(reverse("admin:ai_knowledgedocument_changelist")).content.decode()
    assert "Ждёт индексации" in listing

    refresh_knowledge_base()  # what the worker runs

    document.refresh_from_db()
    assert document.status == "indexed"
    assert document.chunks.exists()
    assert document.index_requested_at is None
    listing = admin_client.get(reverse("admin:ai_knowledgedocument_changelist")).content.decode()
    assert "Проиндексирован" in listing


def test_an_uploaded_file_that_fails_shows_its_reason_in_the_admin(
    admin_client, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.KNOWLEDGE_BASE_PATH = tmp_path
    settings.KNOWLEDGE_PDF_MAX_PAGES = 2
    long = pages_pdf(tmp_path / "long_source.pdf", pages=3).read_bytes()
    (tmp_path / "long_source.pdf").unlink()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/ai/knowledgedocument/add/", {"file": SimpleUploadedFile("catalogue.pdf", long)})

    refresh_knowledge_base()

    document = KnowledgeDocument.objects.get()
    assert document.status == "failed"
    listing = html.unescape(admin_client.get(reverse("admin:ai_knowledgedocument_changelist")).content.decode())
    assert "Ошибка" in listing
    assert "more than 2 pages (KNOWLEDGE_PDF_MAX_PAGES)" in listing
    page = html.unescape(
        admin_client.get(reverse("admin:ai_knowledgedocument_change", args=[document.pk])).content.decode()
    )
    assert "KNOWLEDGE_PDF_MAX_PAGES" in page


def test_a_reindex_in_the_admin_is_queued_and_the_worker_reads_the_file_again(
    admin_client, tmp_path, settings, published, django_capture_on_commit_callbacks
):
    settings.KNOWLEDGE_BASE_PATH = tmp_path
    (tmp_path / "pricing.pdf").write_bytes((DEMO_KNOWLEDGE / "pricing.pdf").read_bytes())
    refresh_knowledge_base()
    document = KnowledgeDocument.objects.get()
    indexed_at = document.indexed_at

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:ai_knowledgedocument_changelist"),
            {"action": "reload", helpers.ACTION_CHECKBOX_NAME: [document.pk]},
        )

    document.refresh_from_db()
    assert published == ["ai.refresh_knowledge_base"]
    assert document.indexed_at == indexed_at  # nothing read in the request
    assert document.status == "indexed"  # and it keeps answering meanwhile
    listing = admin_client.get(reverse("admin:ai_knowledgedocument_changelist")).content.decode()
    assert "ждёт переиндексации" in listing

    refresh_knowledge_base()

    document.refresh_from_db()
    assert document.indexed_at > indexed_at
    assert document.index_requested_at is None


def test_an_upload_that_is_not_a_pdf_is_refused_and_nothing_is_written(admin_client, tmp_path, settings):
    settings.KNOWLEDGE_BASE_PATH = tmp_path
    response = admin_client.post(
        "/admin/ai/knowledgedocument/add/", {"file": SimpleUploadedFile("price.pdf", b"MZ\\x90 not a pdf")}
    )
    assert response.status_code == 200
    assert "Это не PDF-файл" in response.content.decode()
    assert not KnowledgeDocument.objects.exists()
    assert list(tmp_path.iterdir()) == []
