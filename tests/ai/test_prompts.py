"""Prompts: files as the fallback, operators' versions on top, rendering that touches only
what it is asked to."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta

import pytest
from django.utils import timezone

from ai import prompts
from ai.models import PromptOverride
from ai.prompts import PromptText, prompt_file, prompt_get, prompt_render, prompt_reset_to_file
from tests.statements import Statements

MODERATOR_FILE = (prompts.PROMPTS_DIR / "moderator_prompt.txt").read_text(encoding="utf-8").strip()


def override(name: str, text: str, *, active: bool = True, age_minutes: int = 0) -> PromptOverride:
    row = PromptOverride.objects.create(name=name, text=text, is_active=active)
    # created_at is auto_now_add: set the age afterwards to order versions without sleeping
    PromptOverride.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(minutes=age_minutes))
    return row


# --- prompt_get ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_overrides_the_file_is_used_with_a_hash_version():
    prompt = prompt_get("moderator_prompt")

    assert prompt == PromptText(
        name="moderator_prompt",
        text=MODERATOR_FILE,
        version="file:" + hashlib.sha256(MODERATOR_FILE.encode()).hexdigest()[:8],
    )
    assert len(prompt.version) == len("file:") + 8


@pytest.mark.django_db
def test_the_newest_active_override_wins():
    override("moderator_prompt", "старая версия", age_minutes=30)
    newest_active = override("moderator_prompt", "действующая версия", age_minutes=10)
    override("moderator_prompt", "новее, но выключена", active=False, age_minutes=1)
    override("sales_agent_prompt", "другой промпт", age_minutes=0)

    prompt = prompt_get("moderator_prompt")

    assert prompt == PromptText(name="moderator_prompt", text="действующая версия", version=f"db:{newest_active.pk}")


@pytest.mark.django_db
def test_a_prompt_read_again_costs_no_query_until_an_override_is_saved_or_reset():
    """Every reply reads its prompts: the overrides are read once per process and again only
    after an operator saved, deleted or reset one (in any process: a token in the cache)."""
    prompt_get("moderator_prompt")
    with Statements() as again:
        assert prompt_get("moderator_prompt").text == MODERATOR_FILE
    assert again.count == 0

    row = override("moderator_prompt", "Новый текст модератора")
    assert prompt_get("moderator_prompt").version == f"db:{row.pk}"
    prompt_reset_to_file(names=["moderator_prompt"])
    assert prompt_get("moderator_prompt").text == MODERATOR_FILE
    newer = override("moderator_prompt", "Ещё новее")
    newer.delete()
    assert prompt_get("moderator_prompt").text == MODERATOR_FILE


@pytest.mark.django_db
def test_a_prompt_is_read_from_the_database_while_the_cache_is_unreachable(monkeypatch):
    row = override("moderator_prompt", "Текст из базы")

    def unreachable(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(prompts.cache, "get", unreachable)
    assert prompt_get("moderator_prompt").version == f"db:{row.pk}"
    PromptOverride.objects.filter(pk=row.pk).update(is_active=False)
    assert prompt_get("moderator_prompt").text == MODERATOR_FILE


@pytest.mark.django_db
def test_when_every_override_is_inactive_the_file_is_back():
    override("moderator_prompt", "выключена", active=False)

    assert prompt_get("moderator_prompt").version.startswith("file:")


@pytest.mark.django_db
def test_an_override_typed_in_a_browser_loses_its_carriage_returns():
    override("moderator_prompt", "строка 1\r\nстрока 2\r\n")

    assert prompt_get("moderator_prompt").text == "строка 1\nстрока 2"


@pytest.mark.parametrize("name", ["nope", "../settings", "moderator_prompt.txt", "", "Moderator_Prompt"])
def test_an_unknown_prompt_name_is_a_value_error(name):
    with pytest.raises(ValueError, match="unknown prompt"):
        prompt_get(name)


def test_every_overridable_prompt_has_a_file():
    for name in PromptOverride.Name.values:
        assert prompt_file(name).text


def test_a_file_is_read_once_and_again_when_its_mtime_changes(tmp_path, monkeypatch):
    monkeypatch.setattr(prompts, "PROMPTS_DIR", tmp_path)
    path = tmp_path / "probe_prompt.txt"
    path.write_text("первая версия\n", encoding="utf-8")
    first = prompt_file("probe_prompt")
    stat = path.stat()

    # rewritten behind our back with the same mtime: the cached text is still served
    path.write_text("вторая версия", encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert prompt_file("probe_prompt") is first

    # a newer mtime: read again, with a new version
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = prompt_file("probe_prompt")

    assert (first.text, second.text) == ("первая версия", "вторая версия")
    assert first.version != second.version


# --- prompt_render ---------------------------------------------------------------------------------------


def test_the_moderator_prompt_gets_the_company_name_and_keeps_its_json_example(settings):
    settings.COMPANY_NAME = "ТОО Стройком"
    prompt = PromptText(name="moderator_prompt", text=MODERATOR_FILE, version="file:x")

    text = prompt_render(prompt)

    assert "для компании ТОО Стройком." in text
    assert "[НАЗВАНИЕ КОМПАНИИ]" not in text
    example = text[text.index("{", text.index("ОТВЕТЬ СТРОГО В JSON")) :]
    assert json.loads(example) == {
        "isClient": True,
        "confidence": 0.85,
        "reasoning": "Контакт сохранен как 'Иван - ООО Стройком', задает вопросы о ценах на строительные материалы, "
        "деловой стиль общения",
        "requestType": "sales",
    }


def test_only_the_named_placeholders_are_filled(settings):
    settings.COMPANY_NAME = "Acme"
    prompt = PromptText(
        name="x",
        text='[НАЗВАНИЕ КОМПАНИИ]: {phone}, {phone}; {knowledge_base}; {дата} в {время}; {"a": 1}; {unknown}',
        version="file:x",
    )

    text = prompt_render(prompt, phone="+7 701 000 00 00", knowledge_base="Цемент: {price} ₸ [НАЗВАНИЕ КОМПАНИИ]")

    assert text == (
        "Acme: +7 701 000 00 00, +7 701 000 00 00; Цемент: {price} ₸ [НАЗВАНИЕ КОМПАНИИ]; "
        '{дата} в {время}; {"a": 1}; {unknown}'
    )


def test_the_sales_prompt_renders_with_what_the_agent_passes(settings):
    settings.COMPANY_NAME = "ТОО Стройком"
    prompt = prompt_file("sales_agent_prompt")

    text = prompt_render(prompt, knowledge_base="БАЗА", current_datetime="среда, 01.01.2027 10:00", phone="+7 701")

    assert "{knowledge_base}" not in text
    assert "{current_datetime}" not in text
    assert "{phone}" not in text
    assert "БАЗА" in text
    assert "{дата}" in text  # examples for the model stay as written


def test_the_follow_up_prompt_fills_every_occurrence_of_a_placeholder():
    prompt = prompt_file("follow_up_prompt")

    text = prompt_render(prompt, touch_number="3")

    assert "{touch_number}" not in text
    assert "КАСАНИЕ #3 из 5" in text
    assert "{follow_up_reason}" in text  # not given: left for a later step or a human to notice


# --- prompt_reset_to_file --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_resetting_to_the_file_deactivates_only_the_named_prompts():
    override("moderator_prompt", "a")
    override("moderator_prompt", "b")
    sales = override("sales_agent_prompt", "c")

    changed = prompt_reset_to_file(names=["moderator_prompt"])

    assert changed == 2
    assert prompt_get("moderator_prompt").version.startswith("file:")
    assert prompt_get("sales_agent_prompt").version == f"db:{sales.pk}"
    assert PromptOverride.objects.count() == 3  # history kept
