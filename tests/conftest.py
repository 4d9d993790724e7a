import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running; run with --runslow or CYPOOL_SLOW=1")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run slow tests")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or os.environ.get("CYPOOL_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: use --runslow or CYPOOL_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def openmp_allows_3():
    """Lift the OpenMP runtime's thread limit to 3 for the test. Another test module (or torch, which
    may load the same libgomp: torch.set_num_threads(1) lowers cypool's limit too) can have lowered
    it, and threads_for caps every count by it."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=3, user_api="openmp"):
        yield


@pytest.fixture
def spy_threads(monkeypatch, openmp_allows_3):
    """Record the num_threads every kernel call receives (every call runs a plan of
    cypool._plan); parallelise even tiny calls. cypool's own thread setting is reset afterwards."""
    import cypool
    from cypool import _plan, _threads
    seen = []
    real = _threads.threads_for

    def recording(nbytes, n_items):
        n = real(nbytes, n_items)
        seen.append(n)
        return n
    monkeypatch.setattr(_plan, "threads_for", recording)
    monkeypatch.setattr(_threads, "SERIAL_BELOW_BYTES", 0)
    yield seen
    cypool.set_num_threads(None)
