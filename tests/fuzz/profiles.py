"""Hypothesis profiles of the fuzz tests: a fast seeded ``default`` for every run and a ``long`` one for an hour.

``pytest`` runs the fast profile (seeded: the same examples every run; about 30 s for all of tests/fuzz here). A
maintainer runs the long one for about an hour on this machine::

    pytest -m fuzz --hypothesis-profile long --timeout=3600 --hypothesis-show-statistics tests/fuzz

(``OCCSIM_FUZZ_EXAMPLES`` examples per test, 10,000 unless set, scaled per test as the fast profile's; found
failures replay from ``OCCSIM_FUZZ_DB``, ``~/.cache/occsim/hypothesis`` unless set). A failure either finds is shrunk
to its smallest example: save it in the test as an ``@example(...)`` and fix the class of bug behind it.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

FAST_EXAMPLES = 100  # per test in the default profile; each test scales it with ``budget``


def register_profiles() -> None:
    """Register ``default`` (fast, derandomized) and ``long``, and load ``default`` (pytest's option overrides)."""
    settings.register_profile(
        "default",
        max_examples=FAST_EXAMPLES,
        derandomize=True,  # the same examples every run: the default test run stays reproducible
        database=None,
        deadline=5_000,  # [ms] per example: a parser that hangs on an input fails here (a loaded machine)
        suppress_health_check=[HealthCheck.too_slow],
        print_blob=True,
    )
    settings.register_profile(
        "long",
        max_examples=int(os.environ.get("OCCSIM_FUZZ_EXAMPLES", "10000")),
        derandomize=False,
        # found failures replay on the next run from here, outside the repository
        database=DirectoryBasedExampleDatabase(
            Path(os.environ.get("OCCSIM_FUZZ_DB", "~/.cache/occsim/hypothesis")).expanduser()
        ),
        deadline=10_000,  # [ms] still bounded, with room for a busy machine
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        print_blob=True,
    )
    settings.load_profile("default")


def budget(fraction: float) -> settings:
    """Settings running ``fraction`` of the profile's examples (slow surfaces run fewer), at least 5."""
    return settings(max_examples=max(5, int(settings.default.max_examples * fraction)))
