"""The model-played customer and the model judge (with a real key; tested against the scripted
fake's persona and judge answers), and the judge's check against human labels.

Both speak through the product's Gemini door (`ai.sdk.generate`: the key, the retries, the day's
budget) with structured output, on GEMINI_MODEL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from google.genai import types
from pydantic import BaseModel, ConfigDict, Field

from ai import sdk
from ai.llm import LLMError
from evals.cards import RUBRIC, Card

PROMPTS = Path(__file__).resolve().parent / "prompts"
LABELLED = Path(__file__).resolve().parent / "labelled" / "judge_set.yaml"
# An item the judge agrees with the human labels on less often than this is reported as weak.
WEAK_AGREEMENT = 0.8


class PersonaTurn(BaseModel):
    model_config = ConfigDict(title="PersonaTurn")

    message: str = Field(description="The customer's next message, empty when the goal is reached")
    goal_reached: bool = Field(description="Whether the customer got what they came for")


class ItemJudgement(BaseModel):
    item: str
    passed: bool
    reason: str


class Judgement(BaseModel):
    model_config = ConfigDict(title="Judgement")

    judgements: list[ItemJudgement]


@dataclass(frozen=True)
class Verdict:
    item: str
    passed: bool
    reason: str


def transcript_text(lines: Sequence[dict[str, Any]]) -> str:
    """The conversation as the persona and the judge read it: К: customer, А: assistant."""
    return "\n".join(f"{'К' if line['who'] == 'customer' else 'А'}: {line['text']}" for line in lines if line["text"])


def _ask(*, system: str, text: str, schema: type[BaseModel]) -> Any:
    config = types.GenerateContentConfig(
        system_instruction=system,
        temperature=0.7 if schema is PersonaTurn else 0.0,
        response_mime_type="application/json",
        response_schema=schema,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    response = sdk.generate(model=settings.GEMINI_MODEL, contents=[text], config=config)
    parsed = response.parsed
    if isinstance(parsed, schema):
        return parsed
    return schema.model_validate(json.loads(sdk.response_text(response)))


def persona_next(*, card: Card, lines: Sequence[dict[str, Any]]) -> PersonaTurn:
    """The simulated customer's next message after the conversation so far. Raises LLMError."""
    system = (PROMPTS / "persona.txt").read_text(encoding="utf-8").format(persona=card.persona, goal=card.goal)
    text = "Переписка до сих пор:\n" + transcript_text(lines) + "\n\nТвоё следующее сообщение?"
    return _ask(system=system, text=text, schema=PersonaTurn)


def judge_transcript(*, lines: Sequence[dict[str, Any]], items: Sequence[str]) -> list[Verdict]:
    """One binary verdict per rubric item; an item the judge skipped counts as failed (its
    reason says so). Raises LLMError when the model cannot answer."""
    if not items:
        return []
    system = (PROMPTS / "judge.txt").read_text(encoding="utf-8")
    listed = "\n".join(f"- {item}: {RUBRIC[item]}" for item in items)
    text = f"Переписка:\n{transcript_text(lines)}\n\nПункты:\n{listed}"
    answer: Judgement = _ask(system=system, text=text, schema=Judgement)
    given = {j.item: j for j in answer.judgements}
    return [
        Verdict(item, given[item].passed, given[item].reason)
        if item in given
        else Verdict(item, False, "судья не оценил этот пункт")
        for item in items
    ]


@dataclass
class ItemAgreement:
    item: str
    agreed: int = 0
    total: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.agreed / self.total if self.total else 0.0

    @property
    def weak(self) -> bool:
        return self.total < 2 or self.rate < WEAK_AGREEMENT


@dataclass
class JudgeValidation:
    items: dict[str, ItemAgreement]
    errors: list[str] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        total = sum(a.total for a in self.items.values())
        return sum(a.agreed for a in self.items.values()) / total if total else 0.0

    @property
    def weak_items(self) -> list[str]:
        return sorted(item for item, a in self.items.items() if a.weak)

    def as_dict(self) -> dict[str, Any]:
        return {
            "agreement": round(self.agreement, 3),
            "weak_items": self.weak_items,
            "items": {
                item: {"agreed": a.agreed, "total": a.total, "rate": round(a.rate, 3), "misses": a.misses}
                for item, a in sorted(self.items.items())
            },
            "errors": self.errors,
        }


def labelled_set(path: Path = LABELLED) -> list[dict[str, Any]]:
    """The transcripts a person labelled, item by item (evals/labelled/judge_set.yaml)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for entry in data:
        unknown = set(entry["labels"]) - set(RUBRIC)
        if unknown:
            raise ValueError(f"{path}: {entry['id']}: unknown rubric item {sorted(unknown)[0]!r}")
    return data


def judge_validate(*, judge: Callable[..., list[Verdict]] = judge_transcript, path: Path = LABELLED) -> JudgeValidation:
    """Runs the judge on every labelled transcript and counts, per item, how often it agrees."""
    result = JudgeValidation(items={})
    for entry in labelled_set(path):
        labels: dict[str, bool] = entry["labels"]
        try:
            verdicts = judge(lines=entry["transcript"], items=list(labels))
        except LLMError as exc:
            result.errors.append(f"{entry['id']}: {exc}")
            continue
        for verdict in verdicts:
            agreement = result.items.setdefault(verdict.item, ItemAgreement(verdict.item))
            agreement.total += 1
            if verdict.passed == labels[verdict.item]:
                agreement.agreed += 1
            else:
                agreement.misses.append(entry["id"])
    return result
