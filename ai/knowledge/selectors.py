"""Reading the knowledge base: search and the prompt text (selectors read)."""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Max, Q

from ai.knowledge.prices import PriceRow, price_rows
from ai.models import KnowledgeChunk, KnowledgeDocument
from ai.rules.guard import FIGURES_VERSION, known_figures

_WORD = re.compile(r"\w+", re.UNICODE)
# Question words and fillers that match everything; kept short on purpose.
_STOP = frozenset(
    "и в во не что как а то все она так его но да ты к у же вы за бы по только ее мне было вот от меня еще нет о из "
    "ему теперь когда даже ну ли если уже или ни быть был него до вас нибудь опять уж вам ведь там потом себя "
    "ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже себе под "
    "будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы нее сейчас были "
    "куда зачем всех никогда можно при наконец два об другой хоть после над больше тот через эти нас про всего "
    "них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой им более "
    "всегда конечно всю между сколько ли у вас ваш ваша ваше ваши какие каких скажите подскажите пожалуйста "
    "хочу нужно можно есть the a an of to in is are what how".split()
)
STEM_CHARS = 5
# "Сколько стоит X?" shares no word with a price-list row "X | шт. | 1 200 ₸" except X, and X also appears
# in prose; a question about money pulls in the price list's own words.
_PRICE_INTENT = re.compile(r"сколько|стои|цен|поч[её]м|прайс|тариф|залог|тенге|₸|\bтг\b", re.IGNORECASE)
PRICE_TERMS = "цена прайс"  # a crude stem: Russian endings vary, the first letters mostly do not


@dataclass(frozen=True)
class KnowledgeHit:
    text: str
    heading: str
    document_title: str
    score: float
    chunk_id: int = 0
    document_id: int = 0
    # The line of the chunk that matches the query best (a price-list row), for a short verbatim quote;
    # "" when the chunk is one paragraph or no line stands out.
    excerpt: str = ""


def _expand(query: str) -> str:
    return f"{query} {PRICE_TERMS}" if _PRICE_INTENT.search(query) else query


def _stems(text: str) -> list[str]:
    words = (w.lower().replace("ё", "е") for w in _WORD.findall(text))
    return [w[:STEM_CHARS] for w in words if w not in _STOP and (len(w) > 2 or w.isdigit())]


def _indexed_chunks():
    return KnowledgeChunk.objects.filter(document__status=KnowledgeDocument.Status.INDEXED).select_related("document")


def line_excerpt(*, text: str, query: str) -> str:
    """The line of `text` sharing the most stems with `query` (price intent words excluded), or ""."""
    lines = [line for line in text.splitlines() if line.strip()]
    terms = set(_stems(query)) - set(_stems(PRICE_TERMS))
    if len(lines) < 2 or not terms:
        return ""
    overlaps = [len(terms & set(_stems(line))) for line in lines]
    best = max(overlaps)
    return lines[overlaps.index(best)] if best and overlaps.count(best) == 1 else ""


def _hit(chunk: KnowledgeChunk, score: float, query: str) -> KnowledgeHit:
    return KnowledgeHit(
        text=chunk.text,
        heading=chunk.heading,
        document_title=chunk.document.title,
        score=round(float(score), 4),
        chunk_id=chunk.pk,
        document_id=chunk.document_id,
        excerpt=line_excerpt(text=chunk.text, query=query),
    )


def _keyword_search(*, query: str, limit: int) -> list[KnowledgeHit]:
    """Keyword overlap with idf weights over stems; the heading counts double. Works on any database:
    it reads every indexed chunk, which is fine for a knowledge base of a few hundred chunks."""
    terms = set(_stems(_expand(query)))
    if not terms:
        return []
    chunks = list(_indexed_chunks())
    bags = [
        (chunk, Counter(_stems(chunk.text)), set(_stems(chunk.heading + " " + chunk.document.title)))
        for chunk in chunks
    ]
    df = Counter(term for _, bag, head in bags for term in terms if term in bag or term in head)
    n = len(chunks)
    scored = []
    for chunk, bag, head in bags:
        score = 0.0
        for term in terms:
            if term in bag or term in head:
                idf = math.log(1 + n / df[term])
                score += idf * ((1 + math.log(bag[term]) if bag[term] else 0) + (2 if term in head else 0))
        if score > 0:
            scored.append((score / math.sqrt(1 + len(bag) / 50), chunk))
    scored.sort(key=lambda item: (-item[0], item[1].document_id, item[1].position))
    return [_hit(chunk, score, query) for score, chunk in scored[:limit]]


def _postgres_search(*, query: str, limit: int) -> list[KnowledgeHit]:
    found = (w.lower() for w in _WORD.findall(_expand(query)))
    # Each word nests the OR one level deeper (Django copies it recursively): a bounded number.
    words = sorted(list(dict.fromkeys(w for w in found if w not in _STOP and len(w) > 1))[:SEARCH_MAX_WORDS])
    if not words:
        return []
    # Any of the words (OR), ranked by ts_rank: a question rarely shares all its words with the answer.
    search = SearchQuery(words[0], config="russian", search_type="plain")
    for word in words[1:]:
        search |= SearchQuery(word, config="russian", search_type="plain")
    vector = SearchVector("heading", weight="A", config="russian") + SearchVector("text", weight="B", config="russian")
    rows = (
        _indexed_chunks()
        .annotate(vector=vector)
        .filter(vector=search)
        .annotate(rank=SearchRank(F("vector"), search, normalization=0))
        .order_by("-rank", "document_id", "position")[:limit]
    )
    return [_hit(chunk, chunk.rank, query) for chunk in rows]


def knowledge_search(*, query: str, limit: int = 5) -> list[KnowledgeHit]:
    """The chunks of indexed documents that best answer `query`, best first, at most `limit`.

    PostgreSQL: full-text search with the 'russian' configuration (stemming), any-word match ranked by
    ts_rank, heading weighted above text. Elsewhere (SQLite), or when full-text search finds nothing
    (Kazakh words, codes, typos of a stem), keyword overlap with idf weights."""
    if not query.strip() or limit <= 0:
        return []
    query = with_typo_corrections(bounded_query(query))
    # Product codes and model numbers ("Тау-3-07", "TAU0307") are lost by stemming and
    # tokenising: a chunk that contains the exact code comes first.
    exact = _code_search(query=query, limit=limit)
    hits: list[KnowledgeHit] = []
    if connection.vendor == "postgresql":
        hits = _postgres_search(query=query, limit=limit)
    hits = hits or _keyword_search(query=query, limit=limit)
    seen = {hit.chunk_id for hit in exact}
    return [*exact, *(hit for hit in hits if hit.chunk_id not in seen)][:limit]


TYPO_CUTOFF = 0.75  # difflib ratio: "кулир" -> "кулер" 0.8, "доствка" -> "доставка" 0.93
# What one search may cost, whatever a customer sends (a 65,000-character message of random words
# cost ~90 s of CPU in difflib): the query is cut to QUERY_MAX_CHARS (each line, i.e. each customer
# turn, to QUERY_LINE_MAX_CHARS, the latest lines kept), and typo correction looks at the first
# TYPO_MAX_WORDS unknown words of at most TYPO_MAX_WORD_CHARS letters.
QUERY_MAX_CHARS = 2000
QUERY_LINE_MAX_CHARS = 1000
TYPO_MAX_WORDS = 12
TYPO_MAX_WORD_CHARS = 30
# Full-text search ORs at most this many distinct words of the query (the first ones).
SEARCH_MAX_WORDS = 64


def bounded_query(query: str) -> str:
    """`query` cut for search: each line to its first QUERY_LINE_MAX_CHARS characters, and the last
    lines (the latest turns) that fit in QUERY_MAX_CHARS. An ordinary question is unchanged."""
    if len(query) <= QUERY_LINE_MAX_CHARS:
        return query
    kept: list[str] = []
    size = 0
    for line in reversed(query.splitlines()):
        line = line[:QUERY_LINE_MAX_CHARS]
        if kept and size + len(line) + 1 > QUERY_MAX_CHARS:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(reversed(kept))[:QUERY_MAX_CHARS]


def with_typo_corrections(query: str) -> str:
    """The query with, appended, the closest knowledge-base word for each word the knowledge base
    does not contain ("кулир" -> "кулер", "доствка" -> "доставка"): typos and misspelt product
    names then still find their chunk. The original words stay (a correction can be wrong, an
    inflected word may be right). Codes and numbers are left to the exact code search. At most
    TYPO_MAX_WORDS unknown words (of at most TYPO_MAX_WORD_CHARS letters) are looked up."""
    vocabulary = knowledge_vocabulary()
    if not vocabulary:
        return query
    by_length: dict[int, list[str]] = {}
    extra: list[str] = []
    considered = 0
    for token in _WORD.finditer(query):
        word = token.group().lower().replace("ё", "е")
        if len(word) < 4 or word in _STOP or word in vocabulary or any(c.isdigit() for c in word):
            continue
        if len(word) > TYPO_MAX_WORD_CHARS:
            continue
        if considered >= TYPO_MAX_WORDS:
            break
        considered += 1
        if not by_length:
            for known in vocabulary:
                by_length.setdefault(len(known), []).append(known)
        candidates = [w for n in range(len(word) - 2, len(word) + 3) for w in by_length.get(n, ())]
        match = difflib.get_close_matches(word, candidates, n=1, cutoff=TYPO_CUTOFF)
        if match:
            extra.append(match[0])
    return f"{query} {' '.join(extra)}" if extra else query


def knowledge_vocabulary() -> frozenset[str]:
    """Every word (3+ letters, lower case, "ё" as "е") of the indexed chunks, their headings and
    titles; built once per state of the knowledge base and kept in the cache."""
    key = f"ai:kb-vocabulary:{knowledge_state_key()}"
    memo = _vocabulary_memo
    if memo is not None and memo[0] == key:
        return memo[1]
    words = cache.get(key)
    if words is None:
        words = set()
        for text, heading, title in _indexed_chunks().values_list("text", "heading", "document__title"):
            for word in _WORD.findall(f"{text} {heading} {title}"):
                if len(word) >= 3 and not word.isdigit():
                    words.add(word.lower().replace("ё", "е"))
        cache.set(key, words, timeout=24 * 3600)
    _remember_vocabulary(key, frozenset(words))
    return frozenset(words)


# This process's copy of the vocabulary for one state of the knowledge base (a search then costs
# one small query for the state, not a cache round trip with a few thousand words).
_vocabulary_memo: tuple[str, frozenset[str]] | None = None


def _remember_vocabulary(key: str, words: frozenset[str]) -> None:
    global _vocabulary_memo
    _vocabulary_memo = (key, words)


def knowledge_state_key() -> str:
    """Changes whenever a document is indexed, re-indexed or leaves the index."""
    state = KnowledgeDocument.objects.filter(status=KnowledgeDocument.Status.INDEXED).aggregate(
        n=Count("id"), at=Max("indexed_at")
    )
    return f"{state['n']}:{state['at'].timestamp() if state['at'] else 0}"


_CODE = re.compile(r"[\w«»\"]*\d[\w\-./]*\w|\w+-\w+", re.UNICODE)


def _codes(query: str) -> list[str]:
    """Tokens that look like codes: letters and digits mixed, or joined by hyphens."""
    codes = []
    for token in _CODE.findall(query):
        token = token.strip('«»"')
        if len(token) >= 3 and any(c.isdigit() for c in token) and any(c.isalpha() or c == "-" for c in token):
            codes.append(token)
    return codes


def _code_search(*, query: str, limit: int) -> list[KnowledgeHit]:
    codes = _codes(query)
    if not codes:
        return []
    condition = Q()
    for code in codes:
        condition |= Q(text__icontains=code)
    chunks = list(_indexed_chunks().filter(condition)[: limit * 4])
    scored = sorted(
        ((sum(code.lower() in chunk.text.lower() for code in codes), chunk) for chunk in chunks),
        key=lambda pair: (-pair[0], pair[1].document_id, pair[1].position),
    )
    return [_hit(chunk, float(score), query) for score, chunk in scored[:limit]]


def knowledge_prompt_text(*, max_chars: int = 30000) -> str:
    """The whole indexed knowledge base for the prompt's {knowledge_base}: each document's title as a
    header, then its chunks in order (under their headings). "" when there is nothing indexed or it does
    not fit in `max_chars`: then a caller should put the top chunks for the conversation into each
    request instead (`knowledge_search`; per-request assembly comes with the context-caching work)."""
    parts: list[str] = []
    size = 0
    current_doc, current_heading = None, None
    for chunk in _indexed_chunks().order_by("document__path", "position"):
        piece = []
        if chunk.document_id != current_doc:
            piece.append(f"=== {chunk.document.title} ===")
            current_doc, current_heading = chunk.document_id, None
        if chunk.heading and chunk.heading != current_heading:
            piece.append(f"## {chunk.heading}")
            current_heading = chunk.heading
        piece.append(chunk.text)
        text = "\n".join(piece)
        size += len(text) + 2
        if size > max_chars:
            return ""
        parts.append(text)
    return "\n\n".join(parts)


def knowledge_for_prompt(*, max_chars: int = 30000) -> tuple[str, bool]:
    """(knowledge_prompt_text(max_chars=max_chars), whether any chunk is indexed), for the
    sales prompt of every reply: read again only when the knowledge base changed, so a reply
    costs one small query for its state (knowledge_state_key) instead of loading the base."""
    global _prompt_memo
    key = f"{knowledge_state_key()}:{max_chars}"
    memo = _prompt_memo
    if memo is not None and memo[0] == key:
        return memo[1], memo[2]
    text = knowledge_prompt_text(max_chars=max_chars)
    indexed = bool(text) or _indexed_chunks().exists()
    _prompt_memo = (key, text, indexed)
    return text, indexed


# This process's copy of the prompt's knowledge for one state of the knowledge base.
_prompt_memo: tuple[str, str, bool] | None = None


def knowledge_figures() -> frozenset[str]:
    """The figures of every indexed chunk, what the number guard checks replies against. Parsed
    once per state of the knowledge base (not per reply), kept in the cache."""
    key = f"ai:kb-figures:v{FIGURES_VERSION}:{knowledge_state_key()}"
    figures = cache.get(key)
    if figures is None:
        text = "\n".join(KnowledgeChunk.objects.filter(document__status="indexed").values_list("text", flat=True))
        figures = known_figures(text)
        cache.set(key, figures, timeout=24 * 3600)
    return frozenset(figures)


def knowledge_prices() -> list[PriceRow]:
    """The price list of every indexed document (item, unit, amount; `ai.knowledge.prices`), in
    document and page order: what an invoice the assistant asks for is checked against. Parsed
    once per state of the knowledge base, kept in the cache."""
    key = f"ai:kb-prices:{knowledge_state_key()}"
    cached = cache.get(key)
    if cached is None:
        chunks = _indexed_chunks().order_by("document__path", "position").values_list("document_id", "text")
        # One document's chunks read as one text: a table split between chunks keeps its header.
        cached = [
            (row.item, row.unit, str(row.amount))
            for _, texts in itertools.groupby(chunks, key=lambda chunk: chunk[0])
            for row in price_rows("\n".join(text for _, text in texts))
        ]
        cache.set(key, cached, timeout=24 * 3600)
    return [PriceRow(item=item, unit=unit, amount=Decimal(amount)) for item, unit, amount in cached]
