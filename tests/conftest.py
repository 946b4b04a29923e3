import matplotlib

matplotlib.use("Agg")

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Compiled numba kernels go to a cache directory of this test session, never the user's;
# graphdl.compile(backend="auto") (the Trainer's default) uses numpy unless a test asks for numba.
KERNEL_CACHE = tempfile.mkdtemp(prefix="graphdl-test-kernels-")
os.environ["GRAPHDL_CACHE_DIR"] = KERNEL_CACHE
os.environ.setdefault("GRAPHDL_BACKEND", "numpy")


def pytest_unconfigure(config: pytest.Config) -> None:
    """The session's kernel cache goes with the session."""
    shutil.rmtree(KERNEL_CACHE, ignore_errors=True)


COMMITTED_RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"


@pytest.fixture(autouse=True, scope="session")
def _committed_results_stay_as_they_are():
    """Tests run experiments with tiny settings: they must write their results elsewhere
    (``--results``), never over the committed files the README quotes."""
    before = {path.name: path.read_bytes() for path in COMMITTED_RESULTS.glob("*.json")}
    yield
    after = {path.name: path.read_bytes() for path in COMMITTED_RESULTS.glob("*.json")}
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, f"the test run rewrote experiments/results/: {changed}"
