"""PDFs built in the tests: a stream that inflates far beyond the file's size (a deflate bomb, or
minutes of parser work), and a text PDF of a given number of pages."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def stream_pdf(path: Path, *, inflated_mb: int, unit: bytes) -> Path:
    """A one-page PDF whose content stream is `unit` repeated to `inflated_mb` MB, deflated: the file
    stays small (about 1 KB per MB), the stream does not."""
    compressor = zlib.compressobj(9)
    piece = unit * ((1 << 20) // len(unit))
    data = b"".join(compressor.compress(piece) for _ in range(inflated_mb)) + compressor.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def pages_pdf(path: Path, pages: int) -> Path:
    fpdf = pytest.importorskip("fpdf")
    if not FONT.exists():
        pytest.skip("DejaVu Sans is not installed")
    pdf = fpdf.FPDF()
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.set_font("DejaVu", "", 12)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.multi_cell(0, 7, f"Страница {number}: доставка воды по Алматы.")
    pdf.output(str(path))
    return path
