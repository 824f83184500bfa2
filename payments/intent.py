"""Does a customer's message say they have paid? A pure function: the AI pipeline calls it on
each customer message and, when it says yes, calls `payments_customer_says_paid(contact=...)`."""

from __future__ import annotations

import re

# Russian, Kazakh and English ways to say "I paid" / "payment sent"; a question ("оплатить?",
# "как оплатить") or a future ("оплачу") is not a claim of payment.
_PAID = re.compile(
    r"(?<![а-яёәіңғүұқөһa-z])("
    r"оплатил[аи]?|оплачено|оплатили|заплатил[аи]?|перевел[аи]?|перевёл|отправил[аи]? (?:деньги|оплату)|"
    r"төледім|төлендім|төлендi|төледік|төлем жасадым|"
    r"paid|i have paid|payment (?:is )?(?:done|sent)"
    r")(?![а-яёәіңғүұқөһa-z])",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"(?<![а-яёa-z])(не|еще не|ещё не|not|haven't|have not)\s+$", re.IGNORECASE)


def says_paid(text: str) -> bool:
    """True for "оплатил", "Я оплатила счёт", "төледім", "paid"; False for "не оплатил",
    "как оплатить?", "оплачу завтра"."""
    for match in _PAID.finditer(text or ""):
        before = text[max(0, match.start() - 12) : match.start()]
        if not _NEGATION.search(before):
            return True
    return False
