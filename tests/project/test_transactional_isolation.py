"""A transactional test finds the migrated database whatever transactional test ran before it.

A TransactionTestCase ends by emptying every table. Without serialized rollback the flush then
recreates content types and permissions (new ids; sequences are not reset); with it, nothing is
recreated and the next serialized test reloads the snapshot taken after `migrate`. Mixed, a
serialized test after a plain one failed at setup (duplicate key on django_content_type) and a
plain test after a serialized one found empty tables. Which neighbour comes first depends on
what is installed (the browser tests skip without Chromium) and on the shuffled order, so
the order is pinned here, in a child pytest with its own database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.processes import ROOT
from tests.settings import TEST_DATABASE_URL

pytestmark = pytest.mark.e2e

NEIGHBOURS = Path(__file__).with_name("transactional_neighbours.py")


def test_transactional_tests_of_every_kind_each_find_the_migrated_database():
    url = urlparse(TEST_DATABASE_URL)
    env = {
        **os.environ,
        # Its own database (pytest-django prefixes test_) and cache keys, beside this run's.
        "TEST_DATABASE_URL": url._replace(path=f"{url.path}_neighbours").geturl(),
        "TEST_CACHE_PREFIX": f"{os.environ['TEST_CACHE_PREFIX']}n",
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(NEIGHBOURS), "-p", "no:randomly", "-p", "no:cacheprovider", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout
