"""PDF -> text blocks with pdfminer.six, kept apart from the database (pure apart from reading the file).

Run as a script (`python -I extract.py`, what `ai.knowledge.isolation` does) it is the child process
that reads one untrusted PDF under a memory limit: the request (path, password, limits) comes as JSON
on stdin, the `Extraction` goes back as JSON on stdout. It imports nothing of the project.

pdfminer's layout analysis gives text boxes in reading order; inside a box, lines. Plain `extract_text`
reads a table column by column, so lines of different boxes that share a baseline are regrouped into
one row when they look like table cells (short, and the row holds a number): a price list then comes
out as "Доставка по Алматы | рейс | 1 500 ₸" on one line.
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pdfminer.high_level import extract_pages
from pdfminer.layout import LAParams, LTChar, LTFigure, LTPage, LTTextBox, LTTextLine, LTTextLineHorizontal
from pdfminer.pdfdocument import PDFDocument, PDFPasswordIncorrect
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser
from pdfminer.pdftypes import resolve1
from pdfminer.utils import decode_text

# A table cell is short; a line of prose in a column is not (the Federal Register's three columns
# have lines of ~50 characters at the same baselines, and must stay prose).
TABLE_CELL_MAX_CHARS = 40
HEADING_SIZE_RATIO = 1.15
CELL_SEPARATOR = " | "
# pdfminer's default (0.5) splits paragraphs set with 1.5 line spacing into one box per line.
LINE_MARGIN = 0.8


@dataclass(frozen=True)
class Block:
    kind: str  # "heading" | "paragraph" | "table"
    lines: tuple[str, ...]


@dataclass
class Extraction:
    status: str  # the KnowledgeDocument.Status values
    title: str = ""
    pages: int = 0
    characters: int = 0
    blocks: list[Block] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Extraction:
        data = json.loads(text)
        blocks = [Block(kind=b["kind"], lines=tuple(b["lines"])) for b in data.pop("blocks")]
        return cls(**data, blocks=blocks)


def too_many_pages(max_pages: int) -> str:
    return f"more than {max_pages} pages (KNOWLEDGE_PDF_MAX_PAGES)"


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = f"{record.name}: {record.getMessage()}"
        except Exception:  # noqa: BLE001 - a malformed log record must not break extraction
            message = f"{record.name}: {record.msg}"
        if message not in self.messages:
            self.messages.append(message)


def _line_size(line: LTTextLine) -> float:
    sizes = [obj.size for obj in line if isinstance(obj, LTChar)]
    return statistics.median(sizes) if sizes else 0.0


def _clean(text: str) -> str:
    return " ".join(text.replace("\x00", "").split())


def _is_prose_box(box: list[LTTextLine]) -> bool:
    """A column of text: several lines, most of them filling the box's width (justified or ragged prose)."""
    if len(box) < 3:
        return False
    lengths = [len(_clean(line.get_text())) for line in box]
    if statistics.median(lengths) > TABLE_CELL_MAX_CHARS:
        return True
    width = max(line.x1 for line in box) - min(line.x0 for line in box)
    full = sum(1 for line in box if line.width >= 0.85 * width)
    return full >= 0.6 * len(box) and statistics.median(lengths) >= 25


def _text_boxes(container: LTPage | LTFigure) -> Iterator[LTTextBox]:
    """Text boxes in reading order, including those inside figures (forms, XObjects: all_texts=True)."""
    for obj in container:
        if isinstance(obj, LTTextBox):
            yield obj
        elif isinstance(obj, LTFigure):
            yield from _text_boxes(obj)


def page_blocks(page: LTPage) -> list[Block]:
    """The blocks of one page in reading order, with table rows rebuilt from line positions."""
    boxes: list[list[LTTextLine]] = []
    for obj in _text_boxes(page):
        if isinstance(obj, LTTextBox):
            lines = [line for line in obj if isinstance(line, LTTextLine) and _clean(line.get_text())]
            if lines:
                boxes.append(lines)
    if not boxes:
        return []
    all_lines = [line for box in boxes for line in box]
    sizes = [s for s in (_line_size(line) for line in all_lines) if s]
    body_size = statistics.median(sizes) if sizes else 0.0

    # Lines of a prose box (a column of long lines) are never table cells, even when a short last line
    # of a paragraph shares a baseline with the neighbouring column.
    cell_candidates = [
        line for box in boxes if not _is_prose_box(box) for line in box if isinstance(line, LTTextLineHorizontal)
    ]
    # Group horizontal lines by their vertical centre, within half a line height.
    horizontal = sorted(cell_candidates, key=lambda ln: -(ln.y0 + ln.y1) / 2)
    rows: list[list[LTTextLine]] = []
    for line in horizontal:
        centre = (line.y0 + line.y1) / 2
        if rows:
            last = rows[-1][0]
            tolerance = max(1.0, min(line.height, last.height) / 2)
            if abs((last.y0 + last.y1) / 2 - centre) <= tolerance:
                rows[-1].append(line)
                continue
        rows.append([line])
    row_of: dict[int, list[LTTextLine]] = {}
    short = [len(row) > 1 and all(len(_clean(ln.get_text())) <= TABLE_CELL_MAX_CHARS for ln in row) for row in rows]
    is_row = [
        ok and any(ch.isdigit() for ln in row for ch in ln.get_text()) for ok, row in zip(short, rows, strict=True)
    ]
    # A header row ("Наименование | Ед. | Цена") has no digits: it is a row when a table row follows it.
    for i in range(len(rows) - 1):
        if short[i] and not is_row[i] and is_row[i + 1] and len(rows[i]) == len(rows[i + 1]):
            is_row[i] = True
    for row, ok in zip(rows, is_row, strict=True):
        if ok:
            for line in row:
                row_of[id(line)] = row

    blocks: list[Block] = []
    emitted: set[int] = set()
    previous_heading_box = 0
    for box in boxes:
        current: list[str] = []
        kind = "paragraph"

        def flush() -> None:
            nonlocal current, kind
            if current:
                blocks.append(Block(kind=kind, lines=tuple(current)))
            current, kind = [], "paragraph"

        for line in box:
            row = row_of.get(id(line))
            if row is not None:
                if id(row) in emitted:
                    continue
                emitted.add(id(row))
                if kind != "table":
                    flush()
                    kind = "table"
                cells = sorted(row, key=lambda ln: ln.x0)
                current.append(CELL_SEPARATOR.join(_clean(c.get_text()) for c in cells))
                continue
            text = _clean(line.get_text())
            if body_size and _line_size(line) >= body_size * HEADING_SIZE_RATIO and len(text) <= 200:
                flush()
                if blocks and blocks[-1].kind == "heading" and previous_heading_box == id(box):
                    # A heading wrapped over two lines of one box.
                    blocks[-1] = Block(kind="heading", lines=(f"{blocks[-1].lines[0]} {text}",))
                else:
                    blocks.append(Block(kind="heading", lines=(text,)))
                previous_heading_box = id(box)
                continue
            if kind == "table":
                flush()
            current.append(text)
        flush()
    # Each table row or paragraph line may be a box of its own: glue consecutive table blocks together.
    merged: list[Block] = []
    for block in blocks:
        if merged and block.kind == "table" and merged[-1].kind == "table":
            merged[-1] = Block(kind="table", lines=merged[-1].lines + block.lines)
        else:
            merged.append(block)
    return merged


def _pdf_title(path: Path, password: str) -> str:
    """The document information dictionary's Title, or "" (absent, unreadable or not text)."""
    try:
        with path.open("rb") as fh:
            document = PDFDocument(PDFParser(fh), password=password)
            for info in document.info:
                title = resolve1(info.get("Title"))
                if isinstance(title, bytes):
                    return _clean(decode_text(title))[:255]
    except Exception:  # noqa: BLE001, S110 - a title is a nicety; the page text is what counts
        pass
    return ""


def _page_count_exceeds(path: Path, password: str, max_pages: int) -> bool:
    """Whether the page tree lists more than `max_pages` pages (walked lazily, pages not parsed)."""
    try:
        with path.open("rb") as fh:
            document = PDFDocument(PDFParser(fh), password=password)
            for number, _page in enumerate(PDFPage.create_pages(document), start=1):
                if number > max_pages:
                    return True
    except PDFPasswordIncorrect:
        raise
    except Exception:  # noqa: BLE001 - a damaged page tree: the page loop below still enforces the limit
        return False
    return False


def pdf_extract(*, path: Path, password: str = "", max_pages: int = 0) -> Extraction:
    """Read a PDF. Never raises for a bad file: the outcome is in `status` and `warnings`.

    Encrypted files with an empty user password open as they are; a wrong or missing password gives
    `password_required`; a file whose pages hold no text gives `no_text_layer` (needs OCR); pdfminer's
    logged warnings (e.g. a corrupt stream it recovered from) are kept in `warnings`. A file of more
    than `max_pages` pages (0: no limit) is `failed` without its text. MemoryError is raised (the
    child process reports it as the memory limit).
    """
    collector = _WarningCollector()
    pdf_logger = logging.getLogger("pdfminer")
    pdf_logger.addHandler(collector)
    result = Extraction(status="failed")
    empty_pages: list[int] = []
    try:
        if max_pages and _page_count_exceeds(path, password, max_pages):
            result.warnings.append(too_many_pages(max_pages))
            return result
        laparams = LAParams(detect_vertical=True, all_texts=True, line_margin=LINE_MARGIN)
        for number, page in enumerate(extract_pages(str(path), password=password, laparams=laparams), start=1):
            if max_pages and number > max_pages:
                result.blocks = []
                result.warnings.append(too_many_pages(max_pages))
                return result
            result.pages = number
            blocks = page_blocks(page)
            if not blocks:
                empty_pages.append(number)
            result.blocks.extend(blocks)
    except PDFPasswordIncorrect:
        result.status = "password_required"
        result.warnings.append("wrong password" if password else "the file is protected by a password")
        result.blocks = []
        return result
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - damaged files: keep what was recovered, report the rest
        result.warnings.append(f"extraction stopped on page {result.pages + 1}: {type(exc).__name__}: {exc}")
    finally:
        pdf_logger.removeHandler(collector)
        result.warnings[:0] = collector.messages
    result.characters = sum(len(line) for block in result.blocks for line in block.lines)
    if result.characters:
        result.status = "indexed"
        result.title = _pdf_title(path, password)
        if empty_pages and result.pages > 1:
            result.warnings.append(f"pages without text (need OCR): {', '.join(map(str, empty_pages))}")
    elif result.pages and not any(w.startswith("extraction stopped") for w in result.warnings):
        result.status = "no_text_layer"
        result.warnings.append("no text layer (needs OCR)")
    return result


MEMORY_EXIT_CODE = 3


def _child_main() -> int:
    """The child process: limits first (memory, CPU time as a backstop should the parent die), then
    the extraction; the result as JSON on stdout. Exit code MEMORY_EXIT_CODE: the memory limit."""
    import resource

    request = json.loads(sys.stdin.buffer.read())
    if request.get("max_memory_mb"):
        limit = int(request["max_memory_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if request.get("cpu_seconds"):
        seconds = int(request["cpu_seconds"])
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    try:
        result = pdf_extract(
            path=Path(request["path"]), password=request.get("password", ""), max_pages=request.get("max_pages", 0)
        )
        payload = result.to_json().encode()
    except MemoryError:
        return MEMORY_EXIT_CODE
    sys.stdout.buffer.write(payload)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
