"""The stress suite (`make stress`; its fast part runs in `make test`): every test here attacks the
real pipeline, records a line on the session's scoreboard, then asserts that line is clean. The
scoreboard is printed after the tests and written to STRESS_SCOREBOARD (default
stress-results/scoreboard.json)."""

import os
from pathlib import Path

import pytest
from support.scoreboard import Scoreboard

BOARD = Scoreboard()


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.stress)


@pytest.fixture(scope="session")
def scoreboard() -> Scoreboard:
    return BOARD


def pytest_terminal_summary(terminalreporter):
    if not BOARD.lines:
        return
    terminalreporter.write_sep("=", "stress scoreboard")
    terminalreporter.write_line(BOARD.table())
    default = Path(__file__).resolve().parents[2] / "stress-results" / "scoreboard.json"
    out = Path(os.environ.get("STRESS_SCOREBOARD", default))
    BOARD.write(out)
    terminalreporter.write_line(f"scoreboard written to {out}")
