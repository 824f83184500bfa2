"""The sandbox's sample voice note (samples/voice_ru.ogg), what the chat page's voice button sends."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
VOICE_SAMPLE = "voice_ru.ogg"
VOICE_SAMPLE_SECONDS = 6
# What the sample says (espeak-ng, Russian voice): an offline transcriber may answer this for it.
VOICE_SAMPLE_TRANSCRIPT = "Здравствуйте! Подскажите, пожалуйста, сколько стоит ваш товар и есть ли доставка в Алматы?"


@cache
def voice_bytes(name: str) -> bytes:
    """Bytes of a bundled voice file. Only plain names inside samples/ are served."""
    path = SAMPLES_DIR / Path(name).name
    return path.read_bytes()
