"""Every fixed text a customer may read, in each language we answer in (ai.rules.language).

Fixed texts are never generated: the opt-out confirmation must say exactly this, the fallback
and the safe line stand in when the model cannot. They live here, one entry per text with one
version per language, and callers look them up by key and the conversation's language, so no
caller carries its own if/else per language. Placeholders ({when}, {phone}, {name}...) are
filled with `str.format` by `fixed_text`.
"""

from __future__ import annotations

from typing import Literal

from ai.rules.language import KAZAKH, RUSSIAN

Key = Literal[
    "opt_out_confirmation",
    "fallback",
    "safe_figures",
    "handoff",
    "handoff_waiting",
    "voice_ask_to_type",
    "photo_describe",
    "opt_out_hint",
    "post_purchase_thanks",
    "post_purchase_review",
    "call_booked",
    "call_reminder",
    "call_cancelled_by_operator",
    "call_cancelled",
    "call_moved",
    "follow_up_1",
    "follow_up_2",
    "follow_up_3",
    "follow_up_4",
    "follow_up_5",
    "follow_up_neutral",
    "reply_language",
    "payment_invoice",
    "payment_received",
]

TEXTS: dict[str, dict[str, str]] = {
    "opt_out_confirmation": {
        RUSSIAN: "Хорошо, больше не будем писать вам первыми. Если понадобится помощь — просто напишите нам 🙏",
        KAZAKH: "Жақсы, енді сізге бірінші болып жазбаймыз. Көмек керек болса — бізге жай ғана жазыңыз 🙏",
    },
    "fallback": {
        RUSSIAN: "Спасибо за сообщение! Менеджер ответит вам в ближайшее время.",
        KAZAKH: "Хабарламаңызға рахмет! Менеджер жақын арада жауап береді.",
    },
    "safe_figures": {
        RUSSIAN: "Точные цены и условия для вас подтвердит менеджер 😊 Передать ему ваш вопрос?",
        KAZAKH: "Нақты баға мен шарттарды сізге менеджер растайды 😊 Сұрағыңызды оған жіберейін бе?",
    },
    "handoff": {
        RUSSIAN: "Передал ваш вопрос менеджеру — он напишет вам здесь в ближайшее время 🙏",
        KAZAKH: "Сұрағыңызды менеджерге жібердім — ол сізге осы жерде жақын арада жазады 🙏",
    },
    "handoff_waiting": {
        RUSSIAN: "Менеджер уже в курсе и ответит вам здесь как можно скорее 🙏",
        KAZAKH: "Менеджер хабардар, ол сізге осы жерде мүмкіндігінше тез жауап береді 🙏",
    },
    "voice_ask_to_type": {
        RUSSIAN: "Извините, не получилось прослушать голосовое сообщение 🙏 Напишите, пожалуйста, вопрос текстом — "
        "я сразу отвечу.",
        KAZAKH: "Кешіріңіз, дауыстық хабарламаны тыңдай алмадым 🙏 Сұрағыңызды мәтінмен жазыңызшы — бірден "
        "жауап беремін.",
    },
    "photo_describe": {
        RUSSIAN: "Спасибо за фото! 🙏 Сейчас я не могу его посмотреть: опишите, пожалуйста, словами, что на нём "
        "и что нужно, — я сразу помогу.",
        KAZAKH: "Фотоға рахмет! 🙏 Қазір оны көре алмаймын: суретте не бар екенін және не керек екенін сөзбен "
        "жазыңызшы — бірден көмектесемін.",
    },
    "opt_out_hint": {
        RUSSIAN: "Если не хотите получать такие сообщения, напишите «стоп».",
        KAZAKH: "Мұндай хабарламаларды алғыңыз келмесе, «стоп» деп жазыңыз.",
    },
    "post_purchase_thanks": {
        RUSSIAN: "{greeting}спасибо за заказ {order}в {company} на Kaspi.kz! 🙏 Если появятся вопросы по товару — "
        "пишите сюда, поможем.",
        KAZAKH: "{greeting}{company} дүкенінен Kaspi.kz арқылы {order}тапсырыс бергеніңізге рахмет! 🙏 Тауар "
        "бойынша сұрақтар туындаса — осында жазыңыз, көмектесеміз.",
    },
    "post_purchase_review": {
        RUSSIAN: "{greeting}ваш заказ {order}выполнен — спасибо, что выбрали {company}! Будем благодарны за отзыв "
        "на Kaspi.kz: он помогает другим покупателям 🙏",
        KAZAKH: "{greeting}{order}тапсырысыңыз орындалды — {company} таңдағаныңызға рахмет! Kaspi.kz-те пікір "
        "қалдырсаңыз, қуанамыз: ол басқа сатып алушыларға көмектеседі 🙏",
    },
    "call_booked": {
        RUSSIAN: "Записал вас на созвон: {when} (время Астаны). Менеджер позвонит на номер {phone} 👍",
        KAZAKH: "Сізді қоңырауға жаздым: {when} (Астана уақыты). Менеджер {phone} нөміріне қоңырау шалады 👍",
    },
    "call_reminder": {
        RUSSIAN: "Напоминаю: созвон с менеджером {when} (время Астаны). Менеджер позвонит на номер {phone} 📞",
        KAZAKH: "Еске саламын: менеджермен қоңырау {when} (Астана уақыты). Менеджер {phone} нөміріне қоңырау шалады 📞",
    },
    "call_cancelled_by_operator": {
        RUSSIAN: "Созвон {when} (время Астаны) отменён. Если захотите выбрать другое время — напишите здесь 🙏",
        KAZAKH: "{when} (Астана уақыты) қоңырау болмайды. Басқа уақыт таңдағыңыз келсе — осында жазыңыз 🙏",
    },
    "call_cancelled": {
        RUSSIAN: "Отменил ваш созвон {when} (время Астаны). Если захотите выбрать другое время — напишите 🙂",
        KAZAKH: "{when} (Астана уақыты) қоңырауыңызды болдырмадым. Басқа уақыт таңдағыңыз келсе — жазыңыз 🙂",
    },
    "call_moved": {
        RUSSIAN: "Перенесли ваш созвон с менеджером: теперь {when} (время Астаны) вместо {previous}. Менеджер "
        "позвонит на номер {phone} 👍",
        KAZAKH: "Менеджермен қоңырауыңызды ауыстырдық: енді {when} (Астана уақыты), {previous} орнына. Менеджер "
        "{phone} нөміріне қоңырау шалады 👍",
    },
    # The follow-up touches when no model writes them (the offline backend; Russian's first touch
    # there names the customer's topic).
    "follow_up_1": {
        RUSSIAN: "Здравствуйте! Напоминаю о нашем разговоре 😊 Остались ли у Вас вопросы, с которыми я могу помочь?",
        KAZAKH: "Сәлеметсіз бе! Біздің әңгімемізді еске саламын 😊 Көмектесе алатын сұрақтарыңыз қалды ма?",
    },
    "follow_up_2": {
        RUSSIAN: "Здравствуйте! Мы можем подобрать вариант именно под Вашу задачу, а менеджер подтвердит точные "
        "цены и условия ✅ Рассказать подробнее?",
        KAZAKH: "Сәлеметсіз бе! Сіздің міндетіңізге сай нұсқаны таңдап бере аламыз, ал нақты баға мен шарттарды "
        "менеджер растайды ✅ Толығырақ айтып берейін бе?",
    },
    "follow_up_3": {
        RUSSIAN: "Здравствуйте! С похожими задачами к нам обращаются многие клиенты, и менеджер может рассказать, "
        "как мы обычно помогаем их решить 😊 Интересно обсудить Ваш случай?",
        KAZAKH: "Сәлеметсіз бе! Ұқсас міндеттермен бізге көп клиент жүгінеді, менеджер оларды қалай шешетінімізді "
        "айтып бере алады 😊 Сіздің жағдайыңызды талқылаймыз ба?",
    },
    "follow_up_4": {
        RUSSIAN: "Здравствуйте! Не хочется, чтобы Ваш вопрос остался без ответа 👍 Если он ещё актуален, давайте "
        "обсудим: когда Вам удобно?",
        KAZAKH: "Сәлеметсіз бе! Сұрағыңыз жауапсыз қалмасын деймін 👍 Әлі де өзекті болса, талқылайық: сізге "
        "қашан ыңғайлы?",
    },
    "follow_up_5": {
        RUSSIAN: "Здравствуйте! Понимаю, что сейчас, возможно, не самое подходящее время. Если в будущем Вам "
        "понадобится помощь, пишите — всегда рады помочь 😊",
        KAZAKH: "Сәлеметсіз бе! Қазір, бәлкім, ыңғайлы уақыт емес екенін түсінемін. Болашақта көмек керек болса, "
        "жазыңыз — әрқашан көмектесуге қуаныштымыз 😊",
    },
    "follow_up_neutral": {
        RUSSIAN: "Здравствуйте! Если у Вас появятся вопросы, напишите, пожалуйста, — будем рады помочь 😊",
        KAZAKH: "Сәлеметсіз бе! Сұрақтарыңыз туындаса, жазыңыз — көмектесуге қуаныштымыз 😊",
    },
    "payment_invoice": {
        RUSSIAN: "Счёт на {amount} («{description}») ждёт вас в приложении Kaspi.kz — откройте уведомление от "
        "Kaspi, чтобы оплатить. Счёт действует {hours}.",
        KAZAKH: "{amount} сомасына шот («{description}») Kaspi.kz қосымшасында сізді күтіп тұр — төлеу үшін "
        "Kaspi хабарламасын ашыңыз. Шот {hours} жарамды.",
    },
    "payment_received": {
        RUSSIAN: "Оплата {amount} («{description}») получена — спасибо! 🙏",
        KAZAKH: "{amount} («{description}») төлемі алынды — рахмет! 🙏",
    },
    # Our instruction to the model (not a customer text) for a message written in the customer's language.
    "reply_language": {
        RUSSIAN: "Пиши сообщение на русском языке.",
        KAZAKH: "Клиент пишет по-казахски: напиши сообщение на казахском языке.",
    },
}

# Weekday names for dates in fixed texts, Monday first.
WEEKDAYS: dict[str, tuple[str, ...]] = {
    RUSSIAN: ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"),
    KAZAKH: ("дүйсенбі", "сейсенбі", "сәрсенбі", "бейсенбі", "жұма", "сенбі", "жексенбі"),
}


def weekday_name(weekday: int, language: str = RUSSIAN) -> str:
    """The name of `weekday` (0 = Monday) in `language` (Russian when there is none in it)."""
    return WEEKDAYS.get(language, WEEKDAYS[RUSSIAN])[weekday]


def fixed_text(key: Key, language: str = RUSSIAN, **values: object) -> str:
    """The fixed text `key` in `language` (Russian when the text has no version in it), with
    `values` filled in."""
    versions = TEXTS[key]
    text = versions.get(language) or versions[RUSSIAN]
    return text.format(**values) if values else text


def fixed_text_variants(key: Key) -> tuple[str, ...]:
    """Every language's version of `key` (for checks that must recognise any of them)."""
    return tuple(TEXTS[key].values())


def system_in_language(system: str, language: str) -> str:
    """A system instruction for a message written to a customer in `language`: Russian is the
    prompts' own language; any other gets the "reply_language" line appended."""
    if language == RUSSIAN:
        return system
    return f"{system}\n\n{fixed_text('reply_language', language)}"
