from __future__ import annotations

import datetime as dt

import pytest

from tests.formserver.operations.board_clock import DAY, at


@pytest.fixture
def clock(app, monkeypatch):
    """Sets the centre's local time the board sees; 12:00 on DAY unless told."""
    cat = app.extensions["catalogue"]

    def set_to(when: dt.datetime) -> None:
        monkeypatch.setattr(cat, "now", lambda: when)
    set_to(at(DAY, "12:00"))
    return set_to
