"""Fixtures shared by the tests, and the `slow` and `torch` markers (declared in pyproject.toml).

The tests import the cypool that Python finds: `pytest` puts tests/ on the path (pyproject.toml's
`pythonpath`, for helpers.py and reference.py) but not the project root, so it tests the installed
package; `python -m pytest` run in the project root adds the root, so it tests an in-place build.
"""
import importlib.util
import os

import numpy as np
import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run slow tests")


def pytest_report_header(config):
    """Which cypool the run tests (installed, or the source tree's in-place build)."""
    spec = importlib.util.find_spec("cypool")
    return [f"cypool from {os.path.dirname(spec.origin) if spec else '(not importable)'}",
            f"numpy {np.__version__}"]


def pytest_collection_modifyitems(config, items):
    run_slow = config.getoption("--runslow") or os.environ.get("CYPOOL_SLOW") == "1"
    skip_slow = pytest.mark.skip(reason="slow: use --runslow or CYPOOL_SLOW=1")
    # find_spec, not import: importing torch here would load its OpenMP runtime into every run
    has_torch = importlib.util.find_spec("torch") is not None
    skip_torch = pytest.mark.skip(reason="needs torch, which is not installed (pip install torch)")
    for item in items:
        if item.get_closest_marker("slow") and not run_slow:
            item.add_marker(skip_slow)
        if item.get_closest_marker("torch") and not has_torch:
            item.add_marker(skip_torch)


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
