"""The forms the server offers: the loaded handbook plus each form's and each regulation's stored version,
loaded once at start. A source with problems stops the start with the problems listed (`handbook check`
shows the same)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy.orm import Session, sessionmaker

from handbook.load import require_handbook
from handbook.model import Form, Handbook, Shift

from . import regversions
from .formdefs import definition_digest, register_versions


@dataclass
class Catalogue:
    handbook: Handbook
    forms: dict[str, Form]
    version_ids: dict[str, int]
    digests: dict[str, str]
    timezone: zoneinfo.ZoneInfo = field(default_factory=lambda: zoneinfo.ZoneInfo("Asia/Shanghai"))
    regulation_versions: dict[str, regversions.CurrentVersion] = field(default_factory=dict)

    @classmethod
    def load(cls, root: str | Path, sessions: sessionmaker[Session], timezone: str = "Asia/Shanghai") -> Catalogue:
        hb = require_handbook(root)
        with sessions() as db:
            version_ids = register_versions(db, hb.forms)
            regulation_versions = regversions.register_versions(db, hb)
        return cls(hb, {f.id: f for f in hb.forms}, version_ids,
                   {f.id: definition_digest(f) for f in hb.forms}, zoneinfo.ZoneInfo(timezone), regulation_versions)

    def now(self) -> dt.datetime:
        """Local wall-clock time of the centre (naive)."""
        return dt.datetime.now(self.timezone).replace(tzinfo=None)

    def local(self, utc: dt.datetime) -> dt.datetime:
        return utc.replace(tzinfo=dt.UTC).astimezone(self.timezone).replace(tzinfo=None)

    def current_shift(self, at: dt.datetime | None = None) -> Shift | None:
        """The shift whose hours contain `at` (shifts past midnight included); where shifts overlap, the
        one that started last, since its people are the ones opening new forms."""
        at = at or self.now()
        minute = at.hour * 60 + at.minute
        best: tuple[int, Shift] | None = None
        for shift in self.handbook.organisation.shifts.values():
            start, end = (int(p[:2]) * 60 + int(p[3:5]) for p in (shift.start, shift.end))
            if (end - start) % 1440 > (minute - start) % 1440:  # inside, also across midnight
                since = (minute - start) % 1440
                if best is None or since < best[0]:
                    best = (since, shift)
        return best[1] if best else None


def catalogue() -> Catalogue:
    return current_app.extensions["catalogue"]
