"""Worker leases: a worker that dies is noticed within seconds and the tasks it held are
handed back to the queue at once, instead of after the broker's visibility timeout (an hour).

Every worker process has an identity (host name + a random id per start) and, in the broker's
Redis:
- `liveness:lease:<identity>`, written every lease / 3 seconds with an expiry of `lease`
  seconds: the worker is alive while it exists;
- `liveness:workers`, a hash of the identities ever started and not yet cleaned up;
- `liveness:held:<identity>`, a hash of the broker delivery tags it received (acks_late: the
  message sits in kombu's `unacked` hash until the task finished) -> "task name|first argument".

Each worker's lease loop also looks at the others: an identity whose lease lapsed is dead;
the first worker to take its recovery lock hands each message it held that is still unacked
back to its queue (kombu's restore_by_tag: atomic, a message is restored at most once) and
returns the sends among them, so the caller can have them reconciled (a send the dead worker
had in flight may have reached WhatsApp: it is looked for before anything is sent again).

The lowest layer: the Celery app (project.celery) wires this to the worker's signals and
gives it the broker's client and the restore operation.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)

WORKERS_KEY = "liveness:workers"
UNACKED_KEY = "unacked"  # kombu's Redis transport: delivered, not yet acknowledged


def lease_key(identity: str) -> str:
    return f"liveness:lease:{identity}"


def held_key(identity: str) -> str:
    return f"liveness:held:{identity}"


def new_identity(hostname: str | None = None) -> str:
    return f"{hostname or socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Recovered:
    identity: str
    restored: int  # messages handed back to their queue
    sends: list[int]  # outbox rows whose send the dead worker held (to be reconciled)


def lease_renew(client, identity: str, *, lease: int) -> None:
    """The worker is alive for `lease` more seconds; drops the tags of messages it acknowledged."""
    pipe = client.pipeline()
    pipe.set(lease_key(identity), "1", ex=lease)
    pipe.hset(WORKERS_KEY, identity, "1")
    pipe.execute()
    tags = list(client.hkeys(held_key(identity)))
    if tags:
        pipe = client.pipeline()
        for tag in tags:
            pipe.hexists(UNACKED_KEY, tag)
        done = [tag for tag, still in zip(tags, pipe.execute(), strict=True) if not still]
        if done:
            client.hdel(held_key(identity), *done)


def task_held(client, identity: str, *, tag: str, task: str, first_arg: object) -> None:
    """The worker received a message (it stays unacked until the task finished)."""
    client.hset(held_key(identity), tag, f"{task}|{first_arg}")


def worker_left(client, identity: str) -> None:
    """A clean shutdown: kombu hands the unacked messages back itself; forget the worker."""
    pipe = client.pipeline()
    pipe.delete(lease_key(identity), held_key(identity))
    pipe.hdel(WORKERS_KEY, identity)
    pipe.execute()


def dead_workers(client, *, me: str) -> list[str]:
    others = [w.decode() if isinstance(w, bytes) else w for w in client.hkeys(WORKERS_KEY)]
    others = [w for w in others if w != me]
    if not others:
        return []
    pipe = client.pipeline()
    for identity in others:
        pipe.exists(lease_key(identity))
    return [w for w, alive in zip(others, pipe.execute(), strict=True) if not alive]


def recover(client, identity: str, *, restore: Callable[[str], None], send_task: str) -> Recovered | None:
    """Hands the dead worker's unacked messages back to their queues. Only one worker recovers a
    given identity (a lock with an expiry); the lease is checked again under the lock."""
    if not client.set(f"liveness:recovering:{identity}", "1", nx=True, ex=60):
        return None
    if client.exists(lease_key(identity)):
        return None  # it renewed its lease after all
    held = client.hgetall(held_key(identity))
    restored, sends = 0, []
    for raw_tag, raw_what in held.items():
        tag = raw_tag.decode() if isinstance(raw_tag, bytes) else raw_tag
        what = raw_what.decode() if isinstance(raw_what, bytes) else raw_what
        if not client.hexists(UNACKED_KEY, tag):
            continue  # acknowledged before the worker died
        restore(tag)
        restored += 1
        name, _, arg = what.partition("|")
        if name == send_task and arg.isdigit():
            sends.append(int(arg))
    worker_left(client, identity)
    log.warning("worker.dead_recovered", worker=identity, restored=restored, sends=len(sends))
    return Recovered(identity, restored, sends)
