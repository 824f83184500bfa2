"""The model backends: `gemini` (google-genai) and `offline` (rules, no network)."""

from __future__ import annotations

from django.conf import settings

from ai.backends.gemini import GeminiBackend
from ai.backends.offline import OfflineBackend
from ai.llm import LLMBackend


def get_backend() -> LLMBackend:
    """The backend chosen by settings.LLM_BACKEND."""
    if settings.LLM_BACKEND == "offline":
        return OfflineBackend()
    return GeminiBackend()
