"""Which language a customer writes in: Kazakh or Russian. Pure functions of the text.

Many customers in Kazakhstan write in Kazakh, in Russian, or switch between the two within a
conversation. A message counts as Kazakh when it holds more Kazakh words than Russian ones: a
word with a letter only Kazakh has (ә ғ қ ң ө ұ ү һ і), or a common Kazakh word typed without
them ("рахмет", "жок", "салем", the question particles "ма/ме/ба/бе"). A message with no clue
either way ("ok", "👍", a number) says nothing, and the conversation's earlier messages decide;
when nothing decides, the answer is Russian.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

RUSSIAN = "ru"
KAZAKH = "kk"
LANGUAGES = (RUSSIAN, KAZAKH)

_KAZAKH_LETTERS = frozenset("әғқңөұүһі")
# Kazakh words as people type them on a Russian keyboard (no Kazakh letters), which Russian does not use.
_KAZAKH_WORDS = frozenset(
    {
        "рахмет", "рахмер", "салем", "салеметсизбе", "саламатсызба", "сэлем", "иа", "ия", "жок", "жоқ",
        "ма", "ме", "ба", "бе", "па", "пе", "керек", "кажет", "жаксы", "канша", "калай", "кандай", "бар",
        "мен", "сен", "сиз", "биз", "олар", "бул", "осы", "кейин", "емес", "жазамын", "жазыныз", "болады",
        "болама", "ким", "неше", "багасы", "айтыныз", "кешириниз", "жеткизу", "кешке", "ертен", "бугин",
        "алайын", "аламын", "келеди",
    }
)  # fmt: skip
# Russian words common in chats that Kazakh does not use.
_RUSSIAN_WORDS = frozenset(
    {
        "здравствуйте", "здрасте", "привет", "добрый", "день", "вечер", "утро", "да", "нет", "сколько", "стоит",
        "стоимость", "цена", "как", "что", "это", "можно", "пожалуйста", "спасибо", "хочу", "хотел", "хотела",
        "у", "вас", "вы", "есть", "мне", "нужно", "надо", "а", "и", "в", "на", "с", "по", "для", "или", "не",
        "когда", "где", "какой", "какая", "какие", "доставка", "доставку", "заказ", "заказать", "купить",
        "подскажите", "скажите", "интересно", "интересует", "ещё", "еще", "уже", "потом", "позже", "подумаю",
        "хорошо", "ладно", "давайте", "напишу", "можете", "будет", "буду", "тоже", "только", "если",
        "чем", "почему", "зачем", "оплатил", "оплатила", "оплата", "вот", "так", "там", "тут", "здесь",
    }
)  # fmt: skip
_WORDS = re.compile(r"[a-zа-яёәғқңөұүһі]+", re.IGNORECASE)


def message_language(text: str) -> str | None:
    """ "kk" or "ru" when the message says which, None when it holds no clue (an emoji, a
    number, a word both languages share). A tie between the two is Russian."""
    kazakh = russian = 0
    for word in _WORDS.findall((text or "").lower().replace("ё", "е")):
        if word in _KAZAKH_WORDS or any(letter in _KAZAKH_LETTERS for letter in word):
            kazakh += 1
        elif word in _RUSSIAN_WORDS:
            russian += 1
    if kazakh == 0 and russian == 0:
        return None
    return KAZAKH if kazakh > russian else RUSSIAN


def conversation_language(texts_newest_first: Iterable[str], *, allowed: Sequence[str] = LANGUAGES) -> str:
    """The language to answer in: that of the customer's newest message that says which one
    (`texts_newest_first`: the customer's messages, newest first), if it is `allowed`;
    otherwise Russian (or the first allowed language when Russian is not)."""
    unsure = RUSSIAN if RUSSIAN in allowed or not allowed else allowed[0]
    for text in texts_newest_first:
        language = message_language(text)
        if language is not None:
            return language if language in allowed else unsure
    return unsure
