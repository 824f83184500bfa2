"""A load generator: a minute of customers writing, as Wappi's webhook delivers it to gunicorn.

Each contact writes one burst (1-8 messages within about a second, some of them voice notes);
some deliveries are repeated (Wappi retries); the owners' whitelisted numbers and group chats
write too. Every message is also put into the Wappi fake, so the poller sees what the webhook
delivered (the product must store each once)."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import requests

from tests.system.loadlab.fakes import LoadGemini, LoadWappi

WHITELISTED = ("77752837306", "77018855588", "77088098009")  # contacts/migrations/0002_seed_whitelist
GROUPS = ("120363041234567801@g.us", "120363041234567802@g.us")
NAMES = ("Айгерим", "Данияр", "Алия", "Ерлан", "Мария", "Асель", "Нурлан", "Ольга", "Тимур", "Жанна")
TEXTS = (
    "Здравствуйте! Сколько стоит доставка в Алматы?",
    "Добрый день, есть ли в наличии кулер для воды?",
    "Подскажите цены на оптовые поставки",
    "Хочу заказать, как оформить?",
    "Можно счёт на оплату для ТОО?",
    "А сроки доставки какие?",
    "Есть ли гарантия?",
    "Спасибо, а скидки бывают?",
)


@dataclass(frozen=True)
class Planned:
    at: float  # seconds after the start
    phone: str
    chat: str
    text: str
    voice: bool
    kind: str  # client | whitelisted | group
    key: int = 0
    repeat_of: int | None = None  # a repeated delivery of the item with this key


@dataclass
class Posted:
    msg_id: str
    phone: str
    kind: str
    voice: bool
    duplicate: bool
    posted_at: float
    status: int
    seconds: float


@dataclass
class Plan:
    items: list[Planned]
    contacts: list[str]
    duration: float

    @property
    def customer_messages(self) -> int:
        return sum(1 for p in self.items if p.repeat_of is None)


def plan_traffic(
    *,
    contacts: int,
    messages: int,
    duration: float,
    seed: int = 9,
    voice_share: float = 0.05,
    duplicate_share: float = 0.05,
) -> Plan:
    """`messages` distinct customer messages from `contacts` clients (bursts), 2 % of them from
    whitelisted numbers and group chats, plus repeated deliveries, spread over `duration` s."""
    rng = random.Random(seed)
    phones = [f"7705{i:07d}" for i in range(contacts)]
    others = max(4, messages // 50)
    client_messages = max(contacts, messages - others)
    # Every contact writes at least once; the rest is spread unevenly (bursts of up to 8).
    per_contact = [1] * contacts
    for _ in range(client_messages - contacts):
        i = rng.randrange(contacts)
        while per_contact[i] >= 8:
            i = rng.randrange(contacts)
        per_contact[i] += 1
    items: list[Planned] = []
    # Bursts end early enough that the last answers still come within the run.
    span = max(1.0, duration - 2.0)
    for phone, count in zip(phones, per_contact, strict=True):
        start = rng.uniform(0, span)
        for k in range(count):
            voice = rng.random() < voice_share
            items.append(
                Planned(start + k * rng.uniform(0.05, 0.25), phone, f"{phone}@c.us", rng.choice(TEXTS), voice, "client")
            )
    for n in range(others):
        at = rng.uniform(0, span)
        if n % 2:
            phone = WHITELISTED[n % len(WHITELISTED)]
            items.append(Planned(at, phone, f"{phone}@c.us", "Привет, это я, перезвони", False, "whitelisted"))
        else:
            items.append(Planned(at, f"7707{n:07d}", GROUPS[n % len(GROUPS)], "Коллеги, всем привет!", False, "group"))
    items = [replace(p, key=k) for k, p in enumerate(sorted(items, key=lambda p: p.at))]
    for index in rng.sample(range(len(items)), int(len(items) * duplicate_share)):
        original = items[index]
        at = original.at + rng.uniform(0.3, 3.0)
        items.append(replace(original, at=at, text="", key=-1 - index, repeat_of=original.key))
    items.sort(key=lambda p: p.at)
    return Plan(items, phones, duration)


@dataclass
class LoadResult:
    posted: list[Posted] = field(default_factory=list)
    retries: int = 0
    started: float = 0.0
    finished: float = 0.0


def run_traffic(plan: Plan, *, wappi: LoadWappi, gemini: LoadGemini, webhook_url: str, threads: int = 24) -> LoadResult:
    """Posts the plan in real time (each event at its planned second) from a thread pool."""
    result = LoadResult()
    lock = threading.Lock()
    local = threading.local()
    events: dict[int, dict] = {}  # plan index of an original -> its webhook event
    sent_at: dict[int, str] = {}

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.trust_env = False
        return local.session

    def post(index: int, item: Planned) -> None:
        if item.repeat_of is not None:
            event = events[item.repeat_of]
        else:
            name = f"{NAMES[int(item.phone[-3:]) % len(NAMES)]} {item.phone}"
            message = wappi.customer_message(
                phone=item.phone, text=item.text, name=name, voice=item.voice, chat=item.chat
            )
            if item.voice:
                gemini.voice_phone[message["id"]] = item.phone
            event = wappi.webhook(message)
            events[item.key] = event
        started = time.time()
        status = 0
        # Wappi retries a delivery that failed (a reset keep-alive connection, a 5xx): so do we.
        for _attempt in range(3):
            try:
                status = session().post(webhook_url, json={"messages": [event]}, timeout=30).status_code
            except requests.RequestException:
                status = 0
            if status == 200:
                break
            result.retries += 1
        seconds = time.time() - started
        with lock:
            sent_at[index] = event["id"]
            result.posted.append(
                Posted(
                    event["id"], item.phone, item.kind, item.voice, item.repeat_of is not None, started, status, seconds
                )
            )

    result.started = time.time()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = []
        originals_done: dict[int, object] = {}
        for index, item in enumerate(plan.items):
            delay = result.started + item.at - time.time()
            if delay > 0:
                time.sleep(delay)
            if item.repeat_of is not None:
                # A repeat needs its original's event: wait for the original's post to be built.
                originals_done[item.repeat_of].result()
            future = pool.submit(post, index, item)
            originals_done[item.key] = future
            futures.append(future)
        for future in futures:
            future.result()
    result.finished = time.time()
    return result
