"""The report of a run: a table per card and per category for the terminal, and an HTML page
(the conversations, the checks, the judge's reasons) and JSON a business owner and CI can keep."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string

from evals.cards import CATEGORIES


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    json: Path


def report_table(data: dict[str, Any]) -> str:
    """Plain-text tables: one line per card, then one per category, then the verdict."""
    rows = [f"{'card':<34} {'category':<15} {'lang':<5} {'hard':<5} {'pass^1':>6} {'pass^k':>6}  failures"]
    for card in data["cards"]:
        rows.append(
            f"{card['id'][:34]:<34} {card['category'][:15]:<15} {card['language']:<5} "
            f"{_status(card):<5} {card['pass1']:>6.2f} {'yes' if card['passk'] else 'no':>6}  "
            + "; ".join(card["failures"])[:160]
        )
    rows.append("")
    rows.append(f"{'category':<34} {'cards':>5} {'hard ok':>8} {'pass^1':>7} {'pass^k':>7}")
    for category in category_rows(data):
        rows.append(
            f"{category['title'][:34]:<34} {category['cards']:>5} {category['hard_ok']:>8} "
            f"{category['pass1']:>7.2f} {category['passk']:>7.2f}"
        )
    rows.append("")
    rows.append(
        f"{data['cards_hard_ok']}/{data['cards_total']} cards pass every hard check; "
        f"pass^1 {data['pass1']:.2f}, pass^{data['trials']} {data['passk']:.2f} "
        f"({data['mode']}, {data['trials']} trial(s) per card)"
    )
    validation = data.get("judge_validation")
    if validation:
        rows.append(
            f"judge agreement with the labelled set: {validation['agreement']:.2f}; "
            f"weak items: {', '.join(validation['weak_items']) or 'none'}"
        )
    rows.append("RELEASE GATE: " + ("PASSED" if data["hard_ok"] else "FAILED"))
    return "\n".join(rows)


def _status(card: dict[str, Any]) -> str:
    if not card["hard_ok"]:
        return "FAIL"
    return "known" if card.get("known_failing") else "ok"


def category_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for card in data["cards"]:
        grouped[card["category"]].append(card)
    return [
        {
            "category": category,
            "title": CATEGORIES.get(category, category),
            "cards": len(cards),
            "hard_ok": sum(c["hard_ok"] for c in cards),
            "pass1": sum(c["pass1"] for c in cards) / len(cards),
            "passk": sum(c["passk"] for c in cards) / len(cards),
        }
        for category, cards in sorted(grouped.items())
    ]


def report_html(data: dict[str, Any]) -> str:
    return render_to_string("evals/report.html", {"data": data, "categories": category_rows(data)})


def report_write(*, data: dict[str, Any], folder: Path) -> ReportPaths:
    """Writes report.html and report.json into `folder` (created), and returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(html=folder / "report.html", json=folder / "report.json")
    paths.json.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    paths.html.write_text(report_html(data), encoding="utf-8")
    return paths
