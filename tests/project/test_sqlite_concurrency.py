"""`make run` keeps everything in one SQLite file: web, worker threads and beat write at once."""

from __future__ import annotations

import subprocess
import sys

from tests.processes import ROOT, clean_env

WRITER = """
import sys, threading, django
django.setup()
from django.db import connection, transaction
from contacts.models import Contact
from messaging.models import Message

proc, threads, writes = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
errors = []

def work(t):
    try:
        for i in range(writes):
            with transaction.atomic():
                contact, _ = Contact.objects.get_or_create(phone=f"7701{proc:02d}{t:02d}{i % 5:03d}")
                Message.objects.create(contact=contact, direction="in", author="customer", text=f"{proc}-{t}-{i}")
                Contact.objects.filter(pk=contact.pk).update(name=f"n{i}")
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connection.close()

pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
[p.start() for p in pool]
[p.join() for p in pool]
print("ERRORS", errors) if errors else print("OK")
sys.exit(1 if errors else 0)
"""

PROCESSES, THREADS, WRITES = 3, 6, 20


def sqlite_env(tmp_path) -> dict[str, str]:
    return clean_env(
        DJANGO_SETTINGS_MODULE="project.settings",
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CACHE_URL="locmemcache://",
    )


def test_processes_and_threads_write_to_sqlite_at_once_without_database_is_locked(tmp_path):
    env = sqlite_env(tmp_path)
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr

    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(p), str(THREADS), str(WRITES)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for p in range(PROCESSES)
    ]
    outputs = [w.communicate(timeout=180)[0] for w in writers]

    assert [w.returncode for w in writers] == [0] * PROCESSES, "\n".join(outputs)
    count = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from messaging.models import Message; print(Message.objects.count())",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert count.stdout.strip().splitlines()[-1] == str(PROCESSES * THREADS * WRITES)
