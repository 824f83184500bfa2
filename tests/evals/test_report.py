"""The report a business owner reads: per card and per category, known product gaps apart,
and the judge's agreement with the people's labels item by item."""

from __future__ import annotations

from evals.report import report_html, report_table


def card(card_id, category, *, hard_ok=True, known=False, failures=()):
    return {
        "id": card_id,
        "title": card_id,
        "category": category,
        "category_title": category,
        "language": "ru",
        "source": f"evals/cards/{card_id}.yaml",
        "hard_ok": hard_ok,
        "known_issue": "известная проблема" if known else "",
        "known_failing": known,
        "pass1": 1.0 if hard_ok else 0.0,
        "passk": hard_ok,
        "failures": list(failures),
        "trials": [{"ok": hard_ok, "hard_ok": hard_ok, "error": "", "conversation": [], "checks": [], "judge": []}],
    }


DATA = {
    "mode": "model",
    "trials": 3,
    "simulated_customer": True,
    "judge": True,
    "started_at": "2026-12-03T10:00:00+00:00",
    "finished_at": "2026-12-03T10:05:00+00:00",
    "hard_ok": False,
    "cards_total": 3,
    "cards_hard_ok": 2,
    "pass1": 0.667,
    "passk": 0.667,
    "judge_validation": {
        "agreement": 0.9,
        "weak_items": ["natural_kazakh"],
        "items": {
            "natural_kazakh": {"agreed": 2, "total": 4, "rate": 0.5, "misses": ["kk-calque", "kk-russian-words"]}
        },
        "errors": [],
    },
    "cards": [
        card("price-a", "price"),
        card("optout-b", "opt_out", known=True, failures=["opted_out: expected True, got False"]),
        card("booking-c", "booking", hard_ok=False, failures=["booking_in_working_hours: call booked at 20:00"]),
    ],
}


def test_the_table_shows_each_card_each_category_and_the_gate():
    table = report_table(DATA)

    assert "booking-c" in table
    assert "FAIL" in table
    assert "known" in table
    assert "Запись на звонок" in table
    assert "weak items: natural_kazakh" in table
    assert table.endswith("RELEASE GATE: FAILED")


def test_the_page_shows_the_judges_weak_items_and_the_known_gaps():
    page = report_html(DATA)

    assert "НЕ пройдена" in page
    assert "kk-calque, kk-russian-words" in page
    assert "слабый" in page
    assert "известная проблема" in page
    assert "call booked at 20:00" in page
