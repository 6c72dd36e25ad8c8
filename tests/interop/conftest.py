"""Fixtures every interop test shares: a HOME for the driver processes (librocketmq writes
~/logs and broadcasting offsets under it) and a registry that kills every driver process a
test started, whatever the outcome."""

import pytest


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def cleanup():
    """Kills every driver process a test started, whatever the outcome."""
    processes = []
    yield processes.append
    for process in processes:
        process.kill()
