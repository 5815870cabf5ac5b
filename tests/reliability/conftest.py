"""The reliability suite's two sizes and the figures it reports.

`make test` runs a bounded version; `make test-reliability` sets WORKSTATION_RELIABILITY=full and
runs every test here at full size. Tests add what they tried (kills survived, inputs tried,
sockets opened) through the `figures` fixture; the totals are printed at the end of the run.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

import pytest

FULL = os.environ.get("WORKSTATION_RELIABILITY", "").strip().lower() == "full"

_figures_key = pytest.StashKey[Counter]()


@dataclass(frozen=True)
class Size:
    """How hard the suite pushes: `pick(bounded, full)` returns the count for this run."""

    full: bool

    def pick(self, bounded: int, full: int) -> int:
        return full if self.full else bounded


@pytest.fixture(scope="session")
def size() -> Size:
    return Size(full=FULL)


class Figures:
    """Adds a test's figures to the run's totals (a figure of 0, such as sockets opened, is kept)."""

    def __init__(self, totals: Counter) -> None:
        self._totals = totals

    def add(self, name: str, value: int) -> None:
        self._totals[name] += value


def _totals(config: pytest.Config) -> Counter:
    if _figures_key not in config.stash:
        config.stash[_figures_key] = Counter()
    return config.stash[_figures_key]


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    return Figures(_totals(request.config))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    totals = _totals(config)
    if not totals:
        return
    terminalreporter.section(f"reliability figures ({'full' if FULL else 'bounded'} run)")
    for name in sorted(totals):
        terminalreporter.write_line(f"{name}: {totals[name]}")
