"""Blocks -> chunks of ~800-1200 characters (pure). A heading starts a new chunk and is remembered by the
chunks under it; paragraphs are joined into prose (single newlines from the PDF are not trusted); a table
keeps one row per line and is split only between rows."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ai.knowledge.extract import Block

CHUNK_MIN_CHARS = 800
CHUNK_MAX_CHARS = 1200
HEADING_MAX_CHARS = 255

_CJK = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uff00-\uffef]")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


@dataclass(frozen=True)
class ChunkDraft:
    position: int
    heading: str
    text: str


def _join_prose(lines: Iterable[str]) -> str:
    out = ""
    for line in lines:
        if not out:
            out = line
        elif out.endswith("-") and len(out) > 1 and out[-2].isalpha() and line[:1].islower():
            out = out[:-1] + line  # a word hyphenated at the end of a line
        elif _CJK.match(out[-1]) and _CJK.match(line[0]):
            out += line  # CJK has no spaces between words
        else:
            out += " " + line
    return out


def _pieces(block: Block) -> list[str]:
    """A block as indivisible pieces: table rows, or sentences of a long paragraph."""
    if block.kind == "table":
        return list(block.lines)
    text = _join_prose(block.lines)
    if len(text) <= CHUNK_MAX_CHARS:
        return [text]
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > CHUNK_MAX_CHARS:
            cut = sentence.rfind(" ", 0, CHUNK_MAX_CHARS)
            cut = cut if cut > 0 else CHUNK_MAX_CHARS
            pieces.append(sentence[:cut])
            sentence = sentence[cut:].lstrip()
        if sentence:
            pieces.append(sentence)
    return pieces


def chunk_blocks(blocks: Iterable[Block]) -> list[ChunkDraft]:
    chunks: list[ChunkDraft] = []
    heading = ""
    parts: list[str] = []  # blocks of the current chunk, joined by blank lines

    def size() -> int:
        return sum(len(p) for p in parts) + 2 * max(0, len(parts) - 1)

    def flush() -> None:
        nonlocal parts
        text = "\n\n".join(p for p in parts if p).strip()
        if text:
            chunks.append(ChunkDraft(position=len(chunks), heading=heading[:HEADING_MAX_CHARS], text=text))
        parts = []

    for block in blocks:
        if block.kind == "heading":
            if parts:
                flush()
                heading = block.lines[0]
            else:
                # Consecutive headings (a title, then a section) read as one path.
                heading = f"{heading} / {block.lines[0]}" if heading and not chunks else block.lines[0]
            continue
        sep = "\n" if block.kind == "table" else " "
        piece_text = ""
        for piece in _pieces(block):
            candidate = f"{piece_text}{sep}{piece}" if piece_text else piece
            if len(candidate) <= CHUNK_MAX_CHARS and size() + 2 + len(candidate) <= CHUNK_MAX_CHARS:
                piece_text = candidate
                continue
            if piece_text:
                parts.append(piece_text)
            if size() >= CHUNK_MIN_CHARS or size() + 2 + len(piece) > CHUNK_MAX_CHARS:
                flush()
            piece_text = piece
        if piece_text:
            parts.append(piece_text)
        if size() >= CHUNK_MIN_CHARS:
            flush()
    flush()
    return chunks
