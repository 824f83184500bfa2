"""Settings from the environment, read strictly: pure parsers of what an operator writes, and `Env`,
the reader project/settings.py calls (``env.weekdays("FOLLOW_UP_SEND_DAYS", default=...)``).

A value that is not what the variable needs raises `InvalidSetting`, an ImproperlyConfigured whose
message is one line naming the variable and showing an example::

    FOLLOW_UP_SEND_DAYS: 'mon-sux' is not a day list; write e.g. mon-fri or пн,ср,пт

Nothing is guessed: a value is taken in one of the forms listed for its kind, or refused. Secrets
are never echoed (the message gives their length). The parsers also take the typed values that
settings hold (an int, a list of day names), so `manage.py check` runs the same rules over a
setting changed after start-up (project/checks.py, through `Env.rules`).
"""

from __future__ import annotations

import builtins
import ipaddress
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ
from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")


class InvalidSetting(ImproperlyConfigured, ValueError):
    """A setting's value the product cannot use. The message is one line:
    ``NAME: 'value' is not <what>; write e.g. <example>``."""

    def __init__(self, name: str, value: object, what: str, example: str, *, secret: bool = False) -> None:
        self.name = name
        super().__init__(f"{name}: {_shown(value, secret=secret)} is not {what}; write e.g. {example}")


def _shown(value: object, *, secret: bool) -> str:
    if secret:
        return f"the value ({len(str(value))} characters)"
    text = repr(value)  # quotes it, and escapes a newline so the message stays one line
    return text if len(text) <= 80 else text[:76] + "...'"


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) else None


# --- Scalars --------------------------------------------------------------------------------

_TRUE = frozenset({"true", "1", "yes", "y", "on", "да"})
_FALSE = frozenset({"false", "0", "no", "n", "off", "нет"})


def parse_bool(value: object, *, name: str) -> bool:
    """true/false, 1/0, yes/no, on/off (any case; also да/нет)."""
    if isinstance(value, bool):
        return value
    text = _text(value)
    if text is not None and text.lower() in _TRUE:
        return True
    if text is not None and text.lower() in _FALSE:
        return False
    raise InvalidSetting(name, value, "true or false", "true or false")


def _range_words(minimum: float | None, maximum: float | None, *, positive: bool = False) -> str:
    if positive:
        return " above 0"
    if minimum is not None and maximum is not None:
        return f" from {minimum:g} to {maximum:g}"
    if minimum is not None:
        return f" of at least {minimum:g}"
    if maximum is not None:
        return f" of at most {maximum:g}"
    return ""


def parse_int(
    value: object, *, name: str, minimum: int | None = None, maximum: int | None = None, example: object = 10
) -> int:
    """A whole number (`1_000` allowed), within [minimum, maximum] when given."""
    what = "a whole number" + _range_words(minimum, maximum)
    if isinstance(value, bool):
        raise InvalidSetting(name, value, what, str(example))
    if isinstance(value, int):
        number = value
    else:
        text = _text(value)
        if text is None or not re.fullmatch(r"[+-]?\d[\d_]*", text):
            raise InvalidSetting(name, value, what, str(example))
        number = int(text)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise InvalidSetting(name, value, what, str(example))
    return number


def parse_float(
    value: object,
    *,
    name: str,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
    example: object = 1,
) -> float:
    """A number (`1.5`, or `1,5` as written in Russian), finite, within the bounds: `positive`
    means above 0, `minimum`/`maximum` are inclusive."""
    what = "a number" + _range_words(minimum, maximum, positive=positive)
    shown_example = f"{example:g}" if isinstance(example, int | float) else str(example)
    if isinstance(value, bool):
        raise InvalidSetting(name, value, what, shown_example)
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = _text(value)
        if text is not None and text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")
        if text is None or not re.fullmatch(r"[+-]?(\d[\d_]*)?(\.\d+)?([eE][+-]?\d+)?", text) or not text.strip("+-"):
            raise InvalidSetting(name, value, what, shown_example)
        try:
            number = float(text)
        except ValueError:
            raise InvalidSetting(name, value, what, shown_example) from None
    if (
        not math.isfinite(number)
        or (positive and number <= 0)
        or (minimum is not None and number < minimum)
        or (maximum is not None and number > maximum)
    ):
        raise InvalidSetting(name, value, what, shown_example)
    return number


def parse_decimal(value: object, *, name: str, minimum: Decimal | None = None, example: str = "100000") -> Decimal:
    """An exact amount (`100000`, `99.90`)."""
    what = "an amount" + _range_words(float(minimum) if minimum is not None else None, None)
    if isinstance(value, bool):
        raise InvalidSetting(name, value, what, example)
    try:
        amount = (
            value if isinstance(value, Decimal) else Decimal(str(_text(value) if isinstance(value, str) else value))
        )
    except (InvalidOperation, ValueError):
        raise InvalidSetting(name, value, what, example) from None
    if not amount.is_finite() or (minimum is not None and amount < minimum):
        raise InvalidSetting(name, value, what, example)
    return amount


def parse_choice(value: object, *, name: str, choices: Sequence[str], example: str | None = None) -> str:
    """One of `choices`, in any case; returned as spelt in `choices`."""
    text = _text(value)
    for choice in choices:
        if text is not None and text.lower() == choice.lower():
            return choice
    raise InvalidSetting(name, value, "one of " + ", ".join(choices), example or choices[0])


def parse_text(value: object, *, name: str, max_length: int, example: str) -> str:
    """One line of text, at most `max_length` characters (surrounding spaces dropped)."""
    text = _text(value)
    if not text or "\n" in text or "\r" in text or len(text) > max_length:
        raise InvalidSetting(name, value, f"one line of at most {max_length} characters", example)
    return text


_TOKEN = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no space
_URL_SAFE_TOKEN = re.compile(r"[A-Za-z0-9._~-]+")


def parse_token(value: object, *, name: str, example: str, url_safe: bool = False) -> str:
    """A key or token as issued: one word of printable ASCII (a space, a newline or a quote pasted
    with it is refused). `url_safe`: only letters, digits and ``._~-`` (it travels in a URL)."""
    text = value if isinstance(value, str) else None
    pattern = _URL_SAFE_TOKEN if url_safe else _TOKEN
    if text is None or not pattern.fullmatch(text) or text[0] in "'\"" or text[-1] in "'\"":
        what = "a token of letters, digits and ._~-" if url_safe else "a token (one word, no spaces or quotes)"
        raise InvalidSetting(name, value, what, example, secret=True)
    return text


def parse_secret_key(value: object, *, name: str) -> str:
    """Django's SECRET_KEY for a server (DEBUG off): at least 50 characters, 5 of them different,
    not one of Django's `django-insecure-` keys (Django's own deployment check, security.W009)."""
    text = value if isinstance(value, str) else ""
    if len(text) < 50 or len(set(text)) < 5 or text.startswith("django-insecure-"):
        raise InvalidSetting(
            name,
            value,
            "a secret key of at least 50 random characters",
            "the output of python -c 'import secrets; print(secrets.token_urlsafe(50))'",
            secret=True,
        )
    return text


def parse_model_name(value: object, *, name: str, example: str) -> str:
    """A model id as the API names it (`gemini-3.8-flash`, `models/...`): no spaces."""
    text = _text(value)
    if not text or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*", text):
        raise InvalidSetting(name, value, "a model name", example)
    return text


def parse_time_zone(value: object, *, name: str) -> str:
    """An IANA zone name (`Asia/Almaty`, `UTC`) known to the pinned tzdata."""
    text = _text(value)
    try:
        if not text:
            raise ValueError
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSetting(name, value, "a time zone", "Asia/Almaty") from None
    return text


def parse_hour(value: object, *, name: str, example: str) -> int:
    """An hour of the day, 0-24, whole hours: `10`, `09`, `10:00`, `24:00`."""
    what = "an hour of the day (0-24, whole hours)"
    if isinstance(value, int) and not isinstance(value, bool):
        hour: int | None = value
    else:
        text = _text(value)
        match = re.fullmatch(r"(\d{1,2})(?:[:.]00)?", text or "")
        hour = int(match.group(1)) if match else None
    if hour is None or not 0 <= hour <= 24:
        raise InvalidSetting(name, value, what, example)
    return hour


def parse_rate(value: object, *, name: str) -> str:
    """A request rate as Django REST framework reads it: `120/min`, `2000/hour`, `10/s`, `5000/day`."""
    text = re.sub(r"\s+", "", _text(value) or "")
    match = re.fullmatch(r"([1-9]\d*)/(s|sec|second|m|min|minute|h|hour|d|day)", text.lower())
    if not match:
        raise InvalidSetting(name, value, "a rate", "120/min or 2000/hour")
    return f"{match.group(1)}/{match.group(2)}"


def parse_bin(value: object, *, name: str) -> str:
    """A Kazakhstan business identification number: 12 digits."""
    text = re.sub(r"\s+", "", _text(value) or "")
    if not re.fullmatch(r"\d{12}", text):
        raise InvalidSetting(name, value, "a BIN (12 digits)", "180340021791")
    return text


# --- Days of the week -----------------------------------------------------------------------

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_WORDS = (
    ("mon", "monday", "пн", "понедельник", "дс", "дүйсенбі"),
    ("tue", "tues", "tuesday", "вт", "вторник", "сс", "сейсенбі"),
    ("wed", "wednesday", "ср", "среда", "сәрсенбі"),
    ("thu", "thur", "thurs", "thursday", "чт", "четверг", "бс", "бейсенбі"),
    ("fri", "friday", "пт", "пятница", "жм", "жұма"),
    ("sat", "saturday", "сб", "суббота", "сенбі"),
    ("sun", "sunday", "вс", "воскресенье", "жс", "жексенбі"),
)
_DAY_NUMBERS = {word: number for number, words in enumerate(_DAY_WORDS) for word in words}
WEEKDAYS_EXAMPLE = "mon-fri or пн,ср,пт"


def _days_of_text(text: str) -> list[int] | None:
    """Day numbers of `mon-fri`, `mon,wed,fri`, `Sat Sun`, `пн-пт`, `friday-monday`; None if not."""
    text = re.sub(r"\s*[-–—]\s*", "-", text.strip().lower())  # the dashes people type
    days: list[int] = []
    for token in filter(None, re.split(r"[,;\s]+", text)):
        parts = token.split("-")
        first, last = _DAY_NUMBERS.get(parts[0].rstrip(".")), _DAY_NUMBERS.get(parts[-1].rstrip("."))
        if len(parts) > 2 or first is None or last is None:
            return None
        # A range runs forward through the week and wraps: sun-tue is Sunday, Monday, Tuesday.
        days.extend((first + step) % 7 for step in range((last - first) % 7 + 1))
    return days or None


def parse_weekdays(value: object, *, name: str) -> tuple[int, ...]:
    """Days of the week as weekday numbers (0 = Monday), sorted, each once.

    Takes a text of days and ranges separated by commas or spaces: English (`mon`, `Monday`),
    Russian (`пн`, `понедельник`) or Kazakh (`дс`, `дүйсенбі`) names in any case, ranges with a
    dash that wrap round the week (`mon-fri`, `пн-пт`, `sun-tue`); or a list of such texts or of
    weekday numbers 0-6 (a setting's value). Anything else raises InvalidSetting.
    """
    days: list[int] | None
    if isinstance(value, str):
        days = _days_of_text(value)
    elif isinstance(value, Iterable) and not isinstance(value, Mapping):
        days = []
        for item in value:
            if isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 6:
                days.append(item)
                continue
            found = _days_of_text(item) if isinstance(item, str) else None
            if found is None:
                days = None
                break
            days.extend(found)
    else:
        days = None
    if not days:
        raise InvalidSetting(name, value, "a day list", WEEKDAYS_EXAMPLE)
    return tuple(sorted(set(days)))


def weekday_names(days: Iterable[int]) -> list[str]:
    """`(0, 2, 4)` -> `["mon", "wed", "fri"]`."""
    return [WEEKDAY_NAMES[day] for day in days]


# --- Lists ----------------------------------------------------------------------------------


def _items(value: object) -> list[Any] | None:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list | tuple):
        return list(value)
    return None


def parse_list(
    value: object, *, name: str, item: Callable[[Any], T], what: str, example: str, allow_empty: bool = True
) -> list[T]:
    """A comma-separated list whose every item `item` accepts (it raises ValueError otherwise); the
    message names the first item refused, described by `what`."""
    items = _items(value)
    if items is None or (not items and not allow_empty):
        raise InvalidSetting(name, value, f"a comma-separated list of {what}s", example)
    parsed = []
    for raw in items:
        try:
            parsed.append(item(raw))
        except (ValueError, TypeError):
            raise InvalidSetting(name, raw, what, example) from None
    return parsed


def _host(value: object) -> str:
    # A host name, `.example.kz` (with subdomains), `*`, an address or `[::1]`: no scheme, path or port.
    text = value.strip() if isinstance(value, str) else ""
    if text == "*" or re.fullmatch(r"\.?[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?", text):
        return text
    if re.fullmatch(r"\[[0-9A-Fa-f:.]+\]", text):
        ipaddress.ip_address(text[1:-1])
        return text
    raise ValueError(text)


def parse_hosts(value: object, *, name: str, example: str = "sales.example.kz,www.sales.example.kz") -> list[str]:
    """Host names (`sales.example.kz`, `.example.kz`, `127.0.0.1`, `[::1]`), without scheme or path."""
    return parse_list(value, name=name, item=_host, what="a host name (no https://, no path)", example=example)


def _language(value: object) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    if text not in ("ru", "kk"):
        raise ValueError(text)
    return text


def parse_languages(value: object, *, name: str) -> list[str]:
    """Languages the assistant answers in: `ru` and/or `kk`, at least one, repeats dropped."""
    languages = parse_list(
        value, name=name, item=_language, what="a language code (ru or kk)", example="ru,kk", allow_empty=False
    )
    return list(dict.fromkeys(languages))


def _origin(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") or parts.query:
        raise ValueError(text)
    return text


def parse_origins(value: object, *, name: str) -> list[str]:
    """Origins with their scheme (`https://sales.example.kz`), as Django's CSRF_TRUSTED_ORIGINS needs."""
    return parse_list(
        value, name=name, item=_origin, what="an origin with its scheme", example="https://sales.example.kz"
    )


def _network(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    ipaddress.ip_network(text, strict=False)
    return text


def parse_networks(value: object, *, name: str) -> list[str]:
    """IP addresses or networks (`127.0.0.1`, `::1`, `10.0.0.0/8`)."""
    return parse_list(
        value, name=name, item=_network, what="an IP address or network", example="127.0.0.1,::1,172.16.0.0/12"
    )


def _check_id(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*\.[CEWID]\d{3}", text):
        raise ValueError(text)
    return text


def parse_check_ids(value: object, *, name: str) -> list[str]:
    """Django system check ids (`security.W004`)."""
    return parse_list(value, name=name, item=_check_id, what="a system check id", example="security.W004,security.W008")


def parse_phone_list(value: object, *, name: str, normalize: Callable[[str], str]) -> list[str]:
    """Phone numbers separated by commas or semicolons, each as `normalize` (contacts.phones) writes
    it, each once, in the order given. A number `normalize` refuses (ValueError) is refused."""
    if isinstance(value, str):
        value = value.replace(";", ",")
    numbers = parse_list(
        value,
        name=name,
        item=lambda raw: normalize(str(raw)),
        what="a phone number",
        example="+7 701 234 56 78,+7 702 345 67 89",
    )
    return list(dict.fromkeys(numbers))


def parse_hours_list(value: object, *, name: str, count: int, example: str) -> list[float]:
    """Exactly `count` positive numbers of hours (`24,72,168`)."""
    what = f"{count} positive numbers of hours"
    items = _items(value)
    if items is None or len(items) != count:
        raise InvalidSetting(name, value, what, example)
    try:
        return [parse_float(item, name=name, positive=True) for item in items]
    except InvalidSetting:
        raise InvalidSetting(name, value, what, example) from None


# --- Addresses ------------------------------------------------------------------------------


def parse_url(value: object, *, name: str, example: str, schemes: Sequence[str] = ("http", "https")) -> str:
    """An absolute URL with one of `schemes`, a host and a valid port."""
    text = _text(value)
    try:
        parts = urlsplit(text or "")
        ok = bool(text) and parts.scheme in schemes and bool(parts.hostname) and not re.search(r"\s", text or "")
        _ = parts.port  # raises ValueError for a port that is not a number 0-65535
    except ValueError:
        ok = False
    if not ok:
        kinds = " or ".join(f"{scheme}://" for scheme in schemes)
        raise InvalidSetting(name, value, f"a URL ({kinds})", example)
    return text or ""


def parse_broker_url(value: object, *, name: str) -> str:
    """A Celery broker URL: `redis://`, `rediss://`, `amqp://` (and friends) with a host, or kombu's
    `filesystem://`."""
    text = _text(value) or ""
    if text.startswith(("filesystem://", "memory://")):
        return text
    try:
        return parse_url(
            value, name=name, example="", schemes=("redis", "rediss", "sentinel", "amqp", "amqps", "pyamqp")
        )
    except InvalidSetting:
        what = "a broker URL (redis://, amqp:// or filesystem://)"
        raise InvalidSetting(name, value, what, "redis://redis:6379/0") from None


def parse_database_url(value: object, *, name: str) -> dict[str, Any]:
    """A database URL django-environ knows (`postgres://user:password@host:5432/db`, `sqlite:///path`),
    as Django's DATABASES entry."""
    example = "postgres://user:password@host:5432/dbname"
    text = _text(value)
    try:
        config = environ.Env.db_url_config(text) if text else {}
    except (ValueError, ImproperlyConfigured):
        config = {}
    if config.get("ENGINE") not in set(environ.Env.DB_SCHEMES.values()) or not config.get("NAME"):
        raise InvalidSetting(name, value, "a database URL", example)
    return config


def parse_cache_url(value: object, *, name: str) -> dict[str, Any]:
    """A cache URL django-environ knows (`redis://host:6379/1`, `dbcache://table`, `locmemcache://`),
    as Django's CACHES entry."""
    text = _text(value)
    try:
        config = environ.Env.cache_url_config(text) if text and "://" in text else {}
    except (ValueError, ImproperlyConfigured):
        config = {}
    if config.get("BACKEND") not in set(environ.Env.CACHE_SCHEMES.values()):
        raise InvalidSetting(name, value, "a cache URL", "redis://redis:6379/1")
    return config


def parse_swagger_dist(value: object, *, name: str) -> str:
    """`SIDECAR` (drf-spectacular-sidecar's copy in our static files) or the http(s) URL of a copy."""
    text = _text(value)
    if text is not None and text.upper() == "SIDECAR":
        return "SIDECAR"
    try:
        return parse_url(value, name=name, example="SIDECAR")
    except InvalidSetting:
        raise InvalidSetting(name, value, "SIDECAR or an http(s) URL", "SIDECAR") from None


_PRICE_KEYS = ("input", "cached", "output", "storage")
_PRICES_EXAMPLE = '{"gemini-3.8-flash": {"input": 0.75, "cached": 0.075, "output": 3.75, "storage": 1.0}}'


def parse_prices(value: object, *, name: str) -> dict[str, dict[str, float]]:
    """JSON: model name -> {input, cached, output, storage}: USD per 1M tokens, numbers >= 0. A key
    not among those four is refused (a misspelt "ouput" would price every reply at 0)."""
    data = value
    if isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError:
            data = None
    ok = isinstance(data, dict) and all(
        isinstance(model, str)
        and isinstance(prices, dict)
        and prices
        and all(
            key in _PRICE_KEYS and isinstance(price, int | float) and not isinstance(price, bool) and price >= 0
            for key, price in prices.items()
        )
        for model, prices in data.items()
    )
    if not ok:
        raise InvalidSetting(name, value, "JSON of prices per model (input, cached, output, storage)", _PRICES_EXAMPLE)
    assert isinstance(data, dict)  # noqa: S101 - checked above
    return data


# --- Files and folders ----------------------------------------------------------------------


def _path(value: object, *, base: Path | None) -> Path | None:
    if isinstance(value, Path):
        path = value
    elif isinstance(value, str) and value.strip():
        path = Path(value.strip())
    else:
        return None
    return base / path if base is not None and not path.is_absolute() else path


def parse_folder(value: object, *, name: str, example: str, base: Path | None = None, must_exist: bool) -> Path:
    """A folder (relative to `base` when given). `must_exist`: it is there now; otherwise only a path
    that exists as something else (a file) is refused."""
    path = _path(value, base=base)
    if path is None or (path.exists() and not path.is_dir()) or (must_exist and not path.is_dir()):
        raise InvalidSetting(name, value, "a folder" + (" that exists" if must_exist else ""), example)
    return path


def parse_file(value: object, *, name: str, example: str, base: Path | None = None) -> Path:
    """A file that exists (relative to `base` when given)."""
    path = _path(value, base=base)
    if path is None or not path.is_file():
        raise InvalidSetting(name, value, "a file that exists", example)
    return path


# --- Rules across settings ------------------------------------------------------------------


def check_hours_window(start: int, end: int, *, start_name: str, end_name: str, example: str) -> None:
    """`start` before `end` (both already hours 0-24): a window within one day."""
    if not start < end:
        raise InvalidSetting(end_name, end, f"after {start_name} ({start})", example)


def check_jitter(jitter_minutes: int, *, start: int, end: int, name: str, window: str) -> None:
    """The random delay added at a window's opening is shorter than the window."""
    if not 0 <= jitter_minutes * 60 < (end - start) * 3600:
        raise InvalidSetting(name, jitter_minutes, f"shorter than the send window {window} ({start}-{end} h)", "7")


def check_llm_backend(backend: str, *, api_key: str) -> None:
    """Gemini needs its key."""
    if backend == "gemini" and not api_key:
        raise InvalidSetting("LLM_BACKEND", backend, "usable without GEMINI_API_KEY", "offline, or set GEMINI_API_KEY")


def check_time_limits(soft: int, hard: int) -> None:
    """Celery's soft time limit comes before the hard one (the task gets its chance to clean up)."""
    if not soft < hard:
        raise InvalidSetting(
            "CELERY_TASK_SOFT_TIME_LIMIT", soft, f"below CELERY_TASK_TIME_LIMIT ({hard})", str(max(hard - 60, 1))
        )


# --- The reader -----------------------------------------------------------------------------


class Env:
    """Reads variables from `environ` (os.environ by default) through the parsers above.

    A variable that is unset or blank gives `default`, used as is (defaults are the code's own,
    not an operator's text). Every read records its parser in `rules` (variable -> a function of a
    value), so a check can hold a setting of the same name to the same rule later.
    """

    def __init__(self, environ: Mapping[builtins.str, builtins.str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self.rules: dict[builtins.str, Callable[[object], object]] = {}

    def read(self, name: builtins.str, *, default: T, parse: Callable[[object], T]) -> T:
        """`parse(value)` of the variable, or `default` when it is unset or blank."""
        # A setting left empty ("" or None: an optional token, URL or path) is as unset.
        self.rules[name] = lambda value: value if value is None or value == "" else parse(value)
        raw = self._environ.get(name)
        if raw is None or not raw.strip():
            return default
        return parse(raw)

    def bool(self, name: builtins.str, *, default: builtins.bool) -> builtins.bool:
        return self.read(name, default=default, parse=lambda v: parse_bool(v, name=name))

    def int(
        self,
        name: builtins.str,
        *,
        default: builtins.int,
        minimum: builtins.int | None = 0,
        maximum: builtins.int | None = None,
    ) -> builtins.int:
        """A whole number, by default at least 0."""
        return self.read(
            name,
            default=default,
            parse=lambda v: parse_int(v, name=name, minimum=minimum, maximum=maximum, example=default),
        )

    def float(
        self,
        name: builtins.str,
        *,
        default: builtins.float,
        minimum: builtins.float | None = 0,
        positive: builtins.bool = False,
    ) -> builtins.float:
        """A number, by default at least 0 (`positive`: above 0)."""
        return self.read(
            name,
            default=default,
            parse=lambda v: parse_float(v, name=name, minimum=minimum, positive=positive, example=default),
        )

    def seconds(self, name: builtins.str, *, default: builtins.float) -> builtins.float:
        """An interval or a timeout: a number of seconds above 0."""
        return self.float(name, default=default, positive=True)

    def decimal(self, name: builtins.str, *, default: Decimal) -> Decimal:
        return self.read(
            name,
            default=default,
            parse=lambda v: parse_decimal(v, name=name, minimum=Decimal(0), example=builtins.str(default)),
        )

    def choice(self, name: builtins.str, *, default: builtins.str, choices: Sequence[builtins.str]) -> builtins.str:
        return self.read(
            name, default=default, parse=lambda v: parse_choice(v, name=name, choices=choices, example=default)
        )

    def text(self, name: builtins.str, *, default: builtins.str, max_length: builtins.int = 100) -> builtins.str:
        return self.read(
            name, default=default, parse=lambda v: parse_text(v, name=name, max_length=max_length, example=default)
        )

    def token(
        self, name: builtins.str, *, default: builtins.str = "", example: builtins.str, url_safe: builtins.bool = False
    ) -> builtins.str:
        return self.read(
            name, default=default, parse=lambda v: parse_token(v, name=name, example=example, url_safe=url_safe)
        )

    def hour(self, name: builtins.str, *, default: builtins.int) -> builtins.int:
        return self.read(
            name, default=default, parse=lambda v: parse_hour(v, name=name, example=f"{default} or {default}:00")
        )

    def weekdays(self, name: builtins.str, *, default: Sequence[builtins.str]) -> builtins.list[builtins.str]:
        """Day names `mon`..`sun` in week order, from any form parse_weekdays takes."""
        return self.read(
            name, default=builtins.list(default), parse=lambda v: weekday_names(parse_weekdays(v, name=name))
        )

    def phones(
        self, name: builtins.str, *, default: Sequence[builtins.str], normalize: Callable[[builtins.str], builtins.str]
    ) -> builtins.list[builtins.str]:
        return self.read(
            name,
            default=builtins.list(default),
            parse=lambda v: parse_phone_list(v, name=name, normalize=normalize),
        )

    def url(
        self,
        name: builtins.str,
        *,
        default: builtins.str,
        example: builtins.str | None = None,
        schemes: Sequence[builtins.str] = ("http", "https"),
    ) -> builtins.str:
        """An absolute URL; the example is the default unless given (a default may be empty)."""
        shown = example or default
        return self.read(name, default=default, parse=lambda v: parse_url(v, name=name, example=shown, schemes=schemes))

    def list(
        self, name: builtins.str, *, default: Sequence[T], parse: Callable[..., builtins.list[T]]
    ) -> builtins.list[T]:
        """A comma-separated list through a list parser (parse_hosts, parse_networks...)."""
        return self.read(name, default=builtins.list(default), parse=lambda v: parse(v, name=name))

    def secret_key(self, name: builtins.str, *, strong: builtins.bool) -> builtins.str:
        """Django's SECRET_KEY, "" when unset; `strong` (a server): parse_secret_key's rule."""
        return self.read(
            name, default="", parse=lambda v: parse_secret_key(v, name=name) if strong else builtins.str(v)
        )

    def model(self, name: builtins.str, *, default: builtins.str) -> builtins.str:
        return self.read(name, default=default, parse=lambda v: parse_model_name(v, name=name, example=default))

    def time_zone(self, name: builtins.str, *, default: builtins.str) -> builtins.str:
        return self.read(name, default=default, parse=lambda v: parse_time_zone(v, name=name))

    def db_url(self, name: builtins.str, *, default: builtins.str) -> dict[builtins.str, Any]:
        """Django's DATABASES entry of a database URL."""
        return self.read(
            name, default=parse_database_url(default, name=name), parse=lambda v: parse_database_url(v, name=name)
        )

    def cache_url(self, name: builtins.str, *, default: builtins.str) -> dict[builtins.str, Any]:
        """Django's CACHES entry of a cache URL."""
        return self.read(
            name, default=parse_cache_url(default, name=name), parse=lambda v: parse_cache_url(v, name=name)
        )

    def broker_url(self, name: builtins.str, *, default: builtins.str) -> builtins.str:
        return self.read(name, default=default, parse=lambda v: parse_broker_url(v, name=name))

    def folder(
        self,
        name: builtins.str,
        *,
        default: Path,
        example: builtins.str,
        base: Path | None = None,
        must_exist: builtins.bool,
    ) -> Path:
        """A folder; relative to `base` when given (else to the working directory)."""
        return self.read(
            name,
            default=default,
            parse=lambda v: parse_folder(v, name=name, example=example, base=base, must_exist=must_exist),
        )

    def file(self, name: builtins.str, *, example: builtins.str) -> builtins.str:
        """The path of a file that exists, or "" when unset."""
        return self.read(
            name, default="", parse=lambda v: builtins.str(parse_file(v, name=name, example=example)) if v else ""
        )

    def env_file(self, name: builtins.str, *, default: Path) -> Path | None:
        """The env file to read: unset -> `default` if it is there; blank -> none; a path relative to
        the project folder. A missing file is refused, except at `default`'s place: docker compose
        passes .env as the process environment and the file itself is not in the container."""
        self.rules[name] = lambda v: v
        raw = self._environ.get(name)
        if raw is None:
            return default if default.is_file() else None
        if not raw.strip():
            return None
        path = _path(raw, base=default.parent)
        assert path is not None  # noqa: S101 - raw is not blank
        if path.is_file():
            return path
        if path == default and not path.exists():
            return None
        raise InvalidSetting(name, raw, "a file that exists", f".env, or {name}= to read none")
