"""The parsers settings.py reads the environment with: the forms an operator writes are understood,
anything else is refused in one line that names the variable and shows an example."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from contacts.phones import normalize_phone
from project.lib.settings_parsing import (
    Env,
    InvalidSetting,
    parse_bool,
    parse_broker_url,
    parse_cache_url,
    parse_database_url,
    parse_decimal,
    parse_float,
    parse_hosts,
    parse_hour,
    parse_int,
    parse_networks,
    parse_origins,
    parse_phone_list,
    parse_prices,
    parse_rate,
    parse_token,
    parse_url,
    parse_weekdays,
    weekday_names,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


@pytest.mark.parametrize(
    ("written", "days"),
    [
        ("mon-sun", (MON, TUE, WED, THU, FRI, SAT, SUN)),
        ("mon-fri", (MON, TUE, WED, THU, FRI)),
        ("Mon-Sun", (MON, TUE, WED, THU, FRI, SAT, SUN)),
        ("MON-FRI", (MON, TUE, WED, THU, FRI)),
        ("mon,wed,fri", (MON, WED, FRI)),
        ("mon, wed, fri", (MON, WED, FRI)),
        ("mon wed fri", (MON, WED, FRI)),
        ("mon - fri", (MON, TUE, WED, THU, FRI)),
        ("mon–fri", (MON, TUE, WED, THU, FRI)),  # an en dash, as word processors write it
        ("monday-friday", (MON, TUE, WED, THU, FRI)),
        ("Saturday,Sunday", (SAT, SUN)),
        ("tues,thurs", (TUE, THU)),
        ("sun-tue", (MON, TUE, SUN)),
        ("fri-mon", (MON, FRI, SAT, SUN)),
        ("sat-sat", (SAT,)),
        ("mon-wed,fri", (MON, TUE, WED, FRI)),
        ("mon,mon,tue", (MON, TUE)),
        ("пн-пт", (MON, TUE, WED, THU, FRI)),
        ("Пн-Вс", (MON, TUE, WED, THU, FRI, SAT, SUN)),
        ("пн,ср,пт", (MON, WED, FRI)),
        ("понедельник-пятница", (MON, TUE, WED, THU, FRI)),
        ("Суббота, Воскресенье", (SAT, SUN)),
        ("вс-вт", (MON, TUE, SUN)),
        ("пн.-пт.", (MON, TUE, WED, THU, FRI)),
        ("дс-жм", (MON, TUE, WED, THU, FRI)),
        ("сенбі,жексенбі", (SAT, SUN)),
        (["mon", "tue"], (MON, TUE)),
        (["mon-fri"], (MON, TUE, WED, THU, FRI)),
        (("пн", "sun"), (MON, SUN)),
        ([0, 6], (MON, SUN)),
    ],
)
def test_days_are_read_in_every_form_an_operator_writes(written, days):
    assert parse_weekdays(written, name="FOLLOW_UP_SEND_DAYS") == days


@pytest.mark.parametrize(
    "written",
    [
        "mon-sux",
        "",
        " ",
        ",",
        "mo",
        "monday-",
        "-fri",
        "mon-tue-wed",
        "1-5",
        "weekdays",
        "пн-пя",
        ["mon", "sux"],
        [7],
        5,
    ],
)
def test_anything_else_is_not_a_day_list(written):
    with pytest.raises(InvalidSetting) as refused:
        parse_weekdays(written, name="FOLLOW_UP_SEND_DAYS")
    assert str(refused.value) == (f"FOLLOW_UP_SEND_DAYS: {written!r} is not a day list; write e.g. mon-fri or пн,ср,пт")


def test_a_refusal_is_an_improperly_configured_and_a_value_error():
    with pytest.raises(InvalidSetting) as refused:
        parse_weekdays("mon-sux", name="FOLLOW_UP_SEND_DAYS")
    assert isinstance(refused.value, ImproperlyConfigured)
    assert isinstance(refused.value, ValueError)
    assert refused.value.name == "FOLLOW_UP_SEND_DAYS"


def test_day_numbers_are_named_in_week_order():
    assert weekday_names(parse_weekdays("sun-tue", name="X")) == ["mon", "tue", "sun"]


@pytest.mark.parametrize(
    ("written", "hour"), [("10", 10), ("9", 9), ("09", 9), ("10:00", 10), ("0", 0), ("24:00", 24), (18, 18)]
)
def test_an_hour_is_read_with_or_without_minutes(written, hour):
    assert parse_hour(written, name="WORKING_HOURS_START", example="10") == hour


@pytest.mark.parametrize("written", ["10:30", "25", "-1", "ten", "", "10am", 25, True])
def test_an_hour_that_is_not_a_whole_hour_of_the_day_is_refused(written):
    with pytest.raises(InvalidSetting, match=r"^WORKING_HOURS_START: .* is not an hour of the day"):
        parse_hour(written, name="WORKING_HOURS_START", example="10")


@pytest.mark.parametrize(
    ("written", "value"),
    [
        *[("true", True), ("True", True), ("1", True), ("yes", True), ("on", True), ("да", True)],
        *[("false", False), ("FALSE", False), ("0", False), ("no", False), ("off", False), ("нет", False)],
    ],
)
def test_a_flag_is_read_in_its_usual_spellings(written, value):
    assert parse_bool(written, name="DEBUG") is value


@pytest.mark.parametrize("written", ["maybe", "2", "", "enabled", "t"])
def test_a_flag_that_is_neither_is_refused_instead_of_read_as_false(written):
    # django-environ reads anything it does not know as False: DEBUG=ture was silently off.
    with pytest.raises(InvalidSetting, match=r"^DEBUG: .* is not true or false; write e\.g\. true or false$"):
        parse_bool(written, name="DEBUG")


def test_numbers_take_their_bounds_and_an_example():
    assert parse_int("1_000", name="X") == 1000
    assert parse_float("1,5", name="X") == 1.5
    assert parse_float("2.5e1", name="X") == 25.0
    with pytest.raises(
        InvalidSetting, match=r"^SEND_MAX_ATTEMPTS: '0' is not a whole number of at least 1; write e\.g\. 6$"
    ):
        parse_int("0", name="SEND_MAX_ATTEMPTS", minimum=1, example=6)
    with pytest.raises(InvalidSetting, match=r"^X: '3\.5' is not a whole number"):
        parse_int("3.5", name="X")
    with pytest.raises(InvalidSetting, match=r"^WAPPI_TIMEOUT: '0' is not a number above 0; write e\.g\. 25$"):
        parse_float("0", name="WAPPI_TIMEOUT", positive=True, example=25.0)
    for written in ("nan", "inf", "1.2.3", "1,5,6", "", "5s"):
        with pytest.raises(InvalidSetting):
            parse_float(written, name="X")
    assert parse_decimal("99.90", name="X") == Decimal("99.90")
    with pytest.raises(InvalidSetting):
        parse_decimal("сто", name="X")


def test_manager_phones_are_normalised_and_each_kept_once():
    written = "+7 701 234 56 78; 8 (702) 345-67-89, 77012345678"
    assert parse_phone_list(written, name="MANAGER_PHONES", normalize=normalize_phone) == ["77012345678", "77023456789"]
    with pytest.raises(InvalidSetting, match=r"^MANAGER_PHONES: '\+7 701 abc' is not a phone number; write e\.g\. "):
        parse_phone_list("+7 701 234 56 78,+7 701 abc", name="MANAGER_PHONES", normalize=normalize_phone)


def test_addresses_and_hosts():
    assert parse_url("https://wappi.pro", name="X", example="e") == "https://wappi.pro"
    for written in ("wappi.pro", "ftp://wappi.pro", "https://", "https://wappi.pro:port", "https://wap pi.pro"):
        with pytest.raises(InvalidSetting, match=r"^X: .* is not a URL"):
            parse_url(written, name="X", example="https://wappi.pro")
    assert parse_hosts("sales.example.kz, .example.kz,127.0.0.1,[::1],*", name="H") == [
        "sales.example.kz",
        ".example.kz",
        "127.0.0.1",
        "[::1]",
        "*",
    ]
    with pytest.raises(InvalidSetting, match=r"^H: 'sales\.example\.kz/admin' is not a host name"):
        parse_hosts("sales.example.kz/admin", name="H")
    assert parse_origins("https://sales.example.kz,http://localhost:8000", name="O") == [
        "https://sales.example.kz",
        "http://localhost:8000",
    ]
    assert parse_networks("127.0.0.1,::1,10.0.0.0/8", name="N") == ["127.0.0.1", "::1", "10.0.0.0/8"]
    assert parse_broker_url("filesystem://localhost//", name="B") == "filesystem://localhost//"
    assert parse_broker_url("redis://redis:6379/0", name="B") == "redis://redis:6379/0"
    assert parse_database_url("postgres://u:p@db:5432/app", name="D")["ENGINE"] == "django.db.backends.postgresql"
    assert parse_cache_url("dbcache://django_cache", name="C")["BACKEND"].endswith("DatabaseCache")
    with pytest.raises(InvalidSetting, match=r"^D: 'postgres://u@db:5432/' is not a database URL"):
        parse_database_url("postgres://u@db:5432/", name="D")


def test_the_api_rate_is_written_as_django_rest_framework_reads_it():
    assert parse_rate("120/min", name="R") == "120/min"
    assert parse_rate(" 2000 / Hour ", name="R") == "2000/hour"
    for written in ("120 per minute", "0/min", "120/week", "120"):
        with pytest.raises(InvalidSetting, match=r"^R: .* is not a rate; write e\.g\. 120/min or 2000/hour$"):
            parse_rate(written, name="R")


def test_prices_with_a_misspelt_key_are_refused_not_priced_at_zero():
    good = '{"gemini-3.8-flash": {"input": 0.75, "cached": 0.075, "output": 3.75, "storage": 1}}'
    assert parse_prices(good, name="LLM_PRICES")["gemini-3.8-flash"]["output"] == 3.75
    for written in ('{"gemini-3.8-flash": {"input": 0.75, "ouput": 3.75}}', "{not json", "[]", '{"m": {"input": -1}}'):
        with pytest.raises(InvalidSetting, match=r"^LLM_PRICES: .* is not JSON of prices per model"):
            parse_prices(written, name="LLM_PRICES")


def test_a_token_is_never_echoed_in_the_refusal():
    with pytest.raises(InvalidSetting) as refused:
        parse_token("AIza secret pasted with a space", name="GEMINI_API_KEY", example="AIza...")
    assert "secret" not in str(refused.value)
    assert str(refused.value).startswith("GEMINI_API_KEY: the value (31 characters) is not a token")
    assert parse_token("AIzaSyA-1_b", name="GEMINI_API_KEY", example="AIza...") == "AIzaSyA-1_b"
    with pytest.raises(InvalidSetting):
        parse_token('"quoted"', name="T", example="x")
    with pytest.raises(InvalidSetting):
        parse_token("a&b", name="WAPPI_WEBHOOK_SECRET", example="x", url_safe=True)


def test_a_long_or_multiline_value_is_shown_on_one_line():
    with pytest.raises(InvalidSetting) as refused:
        parse_weekdays("mon\n" + "x" * 200, name="FOLLOW_UP_SEND_DAYS")
    message = str(refused.value)
    assert "\n" not in message
    assert len(message) < 200


def test_the_reader_gives_the_default_for_an_unset_or_blank_variable_and_records_each_rule():
    env = Env({"DAYS": "пн-пт", "BLANK": "   ", "HOURS": "10:00"})

    assert env.weekdays("DAYS", default=["mon"]) == ["mon", "tue", "wed", "thu", "fri"]
    assert env.int("BLANK", default=7) == 7
    assert env.int("UNSET", default=3) == 3
    assert env.hour("HOURS", default=9) == 10
    assert set(env.rules) == {"DAYS", "BLANK", "UNSET", "HOURS"}
    # The recorded rule holds a setting's value as it is now; empty means unset.
    assert env.rules["DAYS"](["mon-sun"]) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert env.rules["UNSET"]("") == ""
    with pytest.raises(InvalidSetting, match=r"^UNSET: -1 is not a whole number of at least 0; write e\.g\. 3$"):
        env.rules["UNSET"](-1)


def test_the_env_file_may_be_missing_only_where_docker_compose_leaves_it(tmp_path):
    default = tmp_path / ".env"
    assert Env({}).env_file("ENV_FILE", default=default) is None
    assert Env({"ENV_FILE": ""}).env_file("ENV_FILE", default=default) is None
    assert Env({"ENV_FILE": ".env"}).env_file("ENV_FILE", default=default) is None
    default.write_text("DEBUG=true\n")
    assert Env({"ENV_FILE": ".env"}).env_file("ENV_FILE", default=default) == default
    with pytest.raises(InvalidSetting, match=r"^ENV_FILE: 'prod\.env' is not a file that exists"):
        Env({"ENV_FILE": "prod.env"}).env_file("ENV_FILE", default=default)


def test_folders_and_files(tmp_path):
    env = Env({"KB": "kb", "CERT": str(tmp_path / "missing.pem"), "VAR": str(tmp_path / "new")})
    with pytest.raises(InvalidSetting, match=r"^KB: 'kb' is not a folder that exists"):
        env.folder("KB", default=tmp_path, example="./knowledge_base/", base=tmp_path, must_exist=True)
    (tmp_path / "kb").mkdir()
    assert env.folder("KB", default=tmp_path, example="x", base=tmp_path, must_exist=True) == tmp_path / "kb"
    assert env.folder("VAR", default=tmp_path, example="x", must_exist=False) == Path(tmp_path / "new")
    with pytest.raises(InvalidSetting, match=r"^CERT: .* is not a file that exists"):
        env.file("CERT", example="/app/secrets/client.pem")
