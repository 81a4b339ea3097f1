from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
# One BLAS thread: the exact solvers do many small dense solves, and on a 2-core machine a
# threaded BLAS oversubscribes the cores (up to 1000x slower under load). Set before numpy loads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# Hypothesis profiles (issue 9). ``ci`` is the default: 1000 examples per property, reproducible
# (derandomized, no example database), so a failure in CI prints the same falsifying example
# (and its reproduction blob) on every run. ``soak`` runs 100,000 fresh random examples per
# property (benchmarks/soak.py --properties), ``dev`` 50 for quick local iteration. Select one
# with ``pytest --hypothesis-profile=soak`` or the environment variable MT_HYPOTHESIS_PROFILE.
# Tests that set their own ``@settings(max_examples=...)`` keep it under every profile.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile(
    "ci",
    max_examples=1000,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
)
_hypothesis_settings.register_profile(
    "soak", parent=_hypothesis_settings.get_profile("ci"), max_examples=100_000, derandomize=False
)
_hypothesis_settings.register_profile(
    "dev", parent=_hypothesis_settings.get_profile("ci"), max_examples=50
)
_hypothesis_settings.load_profile(os.environ.get("MT_HYPOTHESIS_PROFILE", "ci"))
