"""A pytest plugin of ``benchmarks/soak.py``: the hypothesis ``soak`` profile at a chosen size.

Loaded with ``-p _soak_hypothesis`` (``benchmarks/`` on ``PYTHONPATH``). It loads the ``soak``
profile that ``tests/conftest.py`` registers (or, when that file does not, the same settings:
random seeds, no deadline, no example database) with ``max_examples`` replaced by the
environment variable ``MT_SOAK_MAX_EXAMPLES`` when set.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings


@pytest.hookimpl(trylast=True)
def pytest_configure(config: Any) -> None:
    """Load the sized soak profile after conftest and hypothesis' own plugin."""
    del config
    try:
        base = settings.get_profile("soak")
    except Exception:  # InvalidArgument: conftest registers no soak profile
        settings.register_profile(
            "soak",
            max_examples=100_000,
            derandomize=False,
            deadline=None,
            database=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        base = settings.get_profile("soak")
    size = os.environ.get("MT_SOAK_MAX_EXAMPLES")
    if size:
        settings.register_profile("soak_sized", parent=base, max_examples=int(size))
        settings.load_profile("soak_sized")
    else:
        settings.load_profile("soak")
