"""Reading an untrusted PDF in a child process, under limits, so a poison file cannot take the worker
(or the web process) down: a deflate bomb meets the memory limit, a file that keeps pdfminer busy is
killed at the time limit, a huge file or page count is refused. The parent always gets an `Extraction`:
the text, or `failed` with the reason in `warnings`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ai.knowledge import extract
from ai.knowledge.extract import Extraction

FAILED = "failed"


@dataclass(frozen=True)
class PdfLimits:
    timeout_seconds: float
    max_memory_mb: int
    max_pages: int
    max_file_mb: int


def _failed(reason: str) -> Extraction:
    return Extraction(status=FAILED, warnings=[reason])


def _child_environment() -> dict[str, str]:
    """Only what Python needs: the child parsing a hostile file holds none of the service's secrets."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    return {name: os.environ[name] for name in keep if name in os.environ}


def pdf_extract_isolated(*, path: Path, password: str, limits: PdfLimits) -> Extraction:
    """`extract.pdf_extract` in a child process with `limits`; never raises for a bad file."""
    size = path.stat().st_size
    if size > limits.max_file_mb * 1024 * 1024:
        return _failed(f"the file is larger than {limits.max_file_mb} MB (KNOWLEDGE_PDF_MAX_FILE_MB)")
    request = {
        "path": str(path.resolve()),
        "password": password,
        "max_pages": limits.max_pages,
        "max_memory_mb": limits.max_memory_mb,
        # A backstop for a child whose parent died: the kernel stops it after this much CPU time.
        "cpu_seconds": math.ceil(limits.timeout_seconds) + 1,
    }
    # -I: the child sees neither PYTHON* variables, the user's site nor this folder on sys.path.
    command = [sys.executable, "-I", extract.__file__]
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and module, the request goes on stdin
            command,
            input=json.dumps(request).encode(),
            capture_output=True,
            timeout=limits.timeout_seconds,
            env=_child_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired:  # run() has killed and reaped the child
        return _failed(f"reading took longer than {limits.timeout_seconds:g} s (KNOWLEDGE_PDF_TIMEOUT_SECONDS)")
    if done.returncode == 0:
        try:
            return Extraction.from_json(done.stdout.decode())
        except (ValueError, KeyError, TypeError):
            return _failed("the reader returned an unreadable result")
    stderr = done.stderr.decode(errors="replace")
    if done.returncode == extract.MEMORY_EXIT_CODE or "MemoryError" in stderr:
        return _failed(f"reading needs more than {limits.max_memory_mb} MB of memory (KNOWLEDGE_PDF_MAX_MEMORY_MB)")
    if done.returncode < 0:
        return _failed(f"the reader was stopped by signal {-done.returncode}")
    last = stderr.strip().splitlines()[-1:] or [""]
    return _failed(f"the reader failed (exit code {done.returncode}): {last[0][:300]}".rstrip(": "))
