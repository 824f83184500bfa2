"""The compose step: clean, the number guard, one correction, the safe line. The drafts are
plain functions standing in for a model; the knowledge base is real rows when a test needs one."""

from __future__ import annotations

import pytest

from ai.compose import Correction, Draft, Result, compose
from ai.llm import LLMTransientError
from ai.models import KnowledgeChunk, KnowledgeDocument

SAFE = "Точные цены подтвердит менеджер 😊"


def drafts(*texts: str | Draft):
    """A model that writes `texts` in turn and remembers what it was told."""
    told: list[Correction | None] = []
    queue = list(texts)

    def draft(correction: Correction | None) -> str | Draft:
        told.append(correction)
        return queue.pop(0)

    draft.told = told  # type: ignore[attr-defined]
    return draft


@pytest.fixture
def knowledge(db):
    document = KnowledgeDocument.objects.create(path="pricing.pdf", title="Цены", status="indexed")
    KnowledgeChunk.objects.create(
        document=document, position=0, heading="Цены", text="Аренда кулера | мес. | 2 500 ₸\nСкидка 10% от 10 бутылей."
    )


def test_a_draft_without_figures_goes_out_cleaned_without_reading_the_knowledge_base():
    # No database here: a text that states no figure never needs the knowledge base.
    model = drafts('**Ответ:** "Здравствуйте! Какой объём вам нужен?"')

    composed = compose(draft=model, safe_text=SAFE)

    assert composed.text == "Здравствуйте! Какой объём вам нужен?"
    assert composed.result == Result.CLEAN
    assert model.told == [None]


def test_a_price_the_knowledge_base_states_goes_out_as_written(knowledge):
    composed = compose(draft=drafts("Аренда кулера — 2 500 ₸ в месяц, скидка 10% 😊"), safe_text=SAFE)
    assert (composed.text, composed.result) == ("Аренда кулера — 2 500 ₸ в месяц, скидка 10% 😊", Result.CLEAN)


def test_an_invented_price_is_sent_back_once_with_the_figures_and_the_correction_goes_out(knowledge):
    model = drafts("Аренда — 7 490 ₸ в месяц", "Аренда кулера — 2 500 ₸ в месяц 😊")

    composed = compose(draft=model, safe_text=SAFE)

    assert composed.text == "Аренда кулера — 2 500 ₸ в месяц 😊"
    assert composed.result == Result.CORRECTED
    assert model.told == [None, Correction(draft="Аренда — 7 490 ₸ в месяц", figures=("7490",))]
    assert model.told[1].figures_text == "7490"


def test_two_invented_drafts_give_the_safe_line_and_say_what_was_wrong(knowledge):
    composed = compose(draft=drafts("Скидка 30%!", "Ладно, скидка 25% 👍"), safe_text=SAFE)

    assert composed.text == SAFE
    assert composed.result == Result.SAFE_LINE
    assert composed.figures == ("25%",)
    assert composed.drafts == ("Скидка 30%!", "Ладно, скидка 25% 👍")


def test_without_a_safe_line_nothing_goes_out(knowledge):
    composed = compose(draft=drafts("Скидка 30%!", "Скидка 30%!"), safe_text=None)
    assert (composed.text, composed.result, composed.usable) == ("", Result.UNUSABLE, False)


def test_an_empty_draft_is_asked_for_again_with_nothing_to_correct():
    model = drafts("**  **", "Добрый день! Чем помочь?")

    composed = compose(draft=model, safe_text=SAFE)

    assert composed.result == Result.CORRECTED
    assert model.told[1] == Correction(draft="", figures=())


def test_without_a_correction_the_first_failure_gives_the_safe_line(knowledge):
    model = drafts("Спасибо за заказ на 99 990 ₸!")
    composed = compose(draft=model, safe_text=SAFE, correct=False)
    assert (composed.text, composed.result, composed.figures) == (SAFE, Result.SAFE_LINE, ("99990",))
    assert model.told == [None]


def test_a_figure_the_caller_allows_passes_besides_the_knowledge_base(knowledge):
    composed = compose(
        draft=drafts("Спасибо за заказ на 12 990 ₸ 🙏"), safe_text=SAFE, allowed_figures={"12990"}, correct=False
    )
    assert composed.result == Result.CLEAN


def test_a_final_draft_stating_an_unknown_figure_gets_its_own_safe_line_without_a_second_draft(knowledge):
    written = []

    def once(correction):
        written.append(correction)
        return Draft("Передал менеджеру, он уточнит 7 490 ₸", final_safe_text="Передал менеджеру 🙏")

    composed = compose(draft=once, safe_text=SAFE)

    assert (composed.text, composed.result) == ("Передал менеджеру 🙏", Result.SAFE_LINE)
    assert composed.figures == ("7490",)
    assert written == [None]


def test_a_final_draft_without_unknown_figures_goes_out_as_written(knowledge):
    draft = Draft("Передал менеджеру, он напишет вам сегодня 🙏", final_safe_text="Передал менеджеру 🙏")
    composed = compose(draft=drafts(draft), safe_text=SAFE)
    assert (composed.text, composed.result) == ("Передал менеджеру, он напишет вам сегодня 🙏", Result.CLEAN)


def test_a_model_error_reaches_the_caller():
    def down(_correction):
        raise LLMTransientError("503")

    with pytest.raises(LLMTransientError):
        compose(draft=down, safe_text=SAFE)
