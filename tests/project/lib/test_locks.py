"""The cross-process lock on the cache (Redis): a long holder keeps it, a killed one loses it."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from django.core.cache import cache

from project.lib.locks import LockTimeout, cache_lock
from tests.processes import ROOT, process_env

HOLD_FOREVER = """
import django, time
django.setup()
from project.lib.locks import cache_lock
with cache_lock("test:killed-holder", ttl=2, wait=0, renew=True):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_renewed_lock_outlives_its_ttl_while_the_block_runs_and_is_free_after():
    with cache_lock("test:long-step", ttl=1, wait=0, renew=True):
        time.sleep(2.5)  # longer than the ttl: a Gemini call with retries
        with pytest.raises(LockTimeout):
            with cache_lock("test:long-step", ttl=1, wait=0):
                pass
    with cache_lock("test:long-step", ttl=1, wait=0):
        pass  # released at the end of the block


def test_without_renewal_a_lock_lapses_at_its_ttl():
    with cache_lock("test:short", ttl=1, wait=0):
        time.sleep(1.5)
        with cache_lock("test:short", ttl=1, wait=0):
            pass  # the first holder's time ran out


def test_a_holder_killed_mid_step_frees_the_lock_within_its_ttl():
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_FOREVER], cwd=ROOT, env=process_env(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "held"
        time.sleep(3)  # past the 2 s ttl: renewal keeps it
        with pytest.raises(LockTimeout):
            with cache_lock("test:killed-holder", ttl=2, wait=0):
                pass
        child.kill()  # a worker killed in the middle of a model call
        child.wait()
        with cache_lock("test:killed-holder", ttl=2, wait=4):
            pass  # free again within the ttl, not after the step's longest run
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        cache.delete("lock:test:killed-holder")
