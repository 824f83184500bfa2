"""Structured logging: stdlib records rendered by structlog (key=value for a console,
one JSON object per line for log shippers), with secrets redacted before rendering.

Code logs events with context as keyword arguments (`log.info("wappi.sent", msg_id=...)`
through ``structlog.get_logger``) or plain stdlib calls with ``extra=``; both end here.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import structlog

# Keys whose values never reach a log line, whatever logs them: names that are, or end in,
# a secret's word (`token`, `wappi_token`, `api_key`, `X-Amz-Signature`), but not counts
# such as `prompt_tokens`.
SECRET_KEYS = re.compile(
    r"(^|[_\-.])(token|secret|api[_-]?key|key|password|passwd|authorization|cookie|signature|credentials?)$", re.I
)
# Secrets that leak inside free text: Google API keys, bearer tokens, ?secret=/&token= in URLs.
SECRET_PATTERNS = (
    re.compile(r"AIza[0-9A-Za-z_\-]{20,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]+"),
    re.compile(r"(?i)([?&](?:secret|token|key|api_key)=)[^&\s\"']+"),
)
REDACTED = "[redacted]"

# Customers' phone numbers (Kazakh and Russian: +7 / 7 / 8 and ten digits, or the ten digits alone
# starting with 7 or 9), written any usual way (+7 (701) 234-56-78, 8 701 234 56 78, 87012345678,
# the chat id 77012345678@c.us), wherever they appear: all but the last four digits are masked
# (***5678). A run glued to letters or longer digits (a provider id 3EB0..., a timestamp, an
# amount, a BIN) is not a phone number.
_SEP = r"(?:[\s\-()]|%20)*"  # %20: a number in a URL's path
PHONE_PATTERN = re.compile(
    rf"(?<![0-9A-Za-z])(?:(?:\+|%2B)?[78]{_SEP}\(?\d{{3}}|\(?[79]\d{{2}}){_SEP}\d{{3}}{_SEP}\d{{2}}{_SEP}(\d{{2}})(?![0-9A-Za-z])"
)
PHONE_MASK = "***"


def _mask_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return PHONE_MASK + digits[-4:]


def mask_phones(text: str) -> str:
    return PHONE_PATTERN.sub(_mask_phone, text)


def redact_text(text: str) -> str:
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return mask_phones(text)


# Celery's task log lines carry the task's arguments (extra data "args"/"kwargs"): a webhook
# payload is customers' numbers and texts. They are never logged; the task id identifies the run.
TASK_ARGUMENT_KEYS = frozenset({"args", "kwargs", "argsrepr", "kwargsrepr"})


def redact_value(key: str, value: Any) -> Any:
    if SECRET_KEYS.search(key):
        return REDACTED
    if key in TASK_ARGUMENT_KEYS:
        return "<hidden>"
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool) and PHONE_PATTERN.fullmatch(str(value)):
        return mask_phones(str(value))  # a number stored as an integer is still a number
    if value is None or isinstance(value, int | float | bool):
        return value
    # Anything else is printed with its repr (a request object shows its URL with the webhook's
    # ?secret=...): redact that text too.
    return redact_text(repr(value))


def _redact_event_dict(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: (redact_value(k, v) if k != "event" else redact_text(str(v))) for k, v in event_dict.items()}


class RedactSecretsFilter(logging.Filter):
    """Scrubs the formatted message and `extra=` fields of stdlib records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            return True  # a structlog event: already redacted by its processor chain
        if record.args:
            try:
                record.msg = record.getMessage()
            except (TypeError, ValueError):
                record.msg = str(record.msg)
            record.args = None
        record.msg = redact_text(str(record.msg))
        for key, value in list(record.__dict__.items()):
            if key not in _STD_ATTRS:
                record.__dict__[key] = redact_value(key, value)
        return True


_STD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

_SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _redact_event_dict,
]


def build_formatter(fmt: str = "json") -> structlog.stdlib.ProcessorFormatter:
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            # Once more: a traceback only becomes text here, and an exception's message can
            # carry a number or a URL with its secret.
            _redact_event_dict,
            renderer,
        ],
    )


def file_handler(filename: str, *, backup_days: int) -> logging.Handler:
    """LOG_FILE's handler: a new file each midnight (the old one renamed `<file>.YYYY-MM-DD`),
    `backup_days` of them kept. Several processes (gunicorn's master and workers, Celery) write
    the one file: concurrent-log-handler takes a lock file beside it for each write and rollover,
    so lines are never mixed or lost and the file is rotated once."""
    from concurrent_log_handler import ConcurrentTimedRotatingFileHandler

    return ConcurrentTimedRotatingFileHandler(filename, when="midnight", backupCount=backup_days, encoding="utf-8")


structlog.configure(
    processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)
