import matplotlib

matplotlib.use("Agg")

import os  # noqa: E402
import tempfile  # noqa: E402

# Compiled numba kernels go to a cache directory of this test session, never the user's;
# graphdl.compile(backend="auto") (the Trainer's default) uses numpy unless a test asks for numba.
os.environ["GRAPHDL_CACHE_DIR"] = tempfile.mkdtemp(prefix="graphdl-test-kernels-")
os.environ.setdefault("GRAPHDL_BACKEND", "numpy")
