"""The forms the server offers: the loaded handbook plus each form's and each regulation's stored version,
loaded once at start. A source with problems stops the start with the problems listed (`handbook check`
shows the same)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from formserver.db.models import FormVersion
from formserver.forms import regversions
from formserver.forms.formdefs import definition_digest, register_versions
from handbook.formmodel import Form
from handbook.load import require_handbook
from handbook.model import Handbook, Shift


@dataclass
class Catalogue:
    handbook: Handbook
    forms: dict[str, Form]
    version_ids: dict[str, int]
    digests: dict[str, str]
    timezone: zoneinfo.ZoneInfo = field(default_factory=lambda: zoneinfo.ZoneInfo("Asia/Shanghai"))
    regulation_versions: dict[str, regversions.CurrentVersion] = field(default_factory=dict)
    # When the schedules start counting (local): a form due before it was not missed, the centre did not use
    # the server yet.
    schedules_from: dt.datetime = dt.datetime.min

    @classmethod
    def load(cls, root: str | Path, sessions: sessionmaker[Session], timezone: str = "Asia/Shanghai",
             schedules_from: str = "") -> Catalogue:
        hb = require_handbook(root)
        zone = zoneinfo.ZoneInfo(timezone)
        with sessions() as db:
            version_ids = register_versions(db, hb.forms)
            regulation_versions = regversions.register_versions(db, hb)
            first_use = db.scalar(select(func.min(FormVersion.created_at)))
        if schedules_from:
            try:
                since = dt.datetime.combine(dt.date.fromisoformat(schedules_from), dt.time())
            except ValueError:
                raise ValueError(f"SCHEDULES_FROM “{schedules_from}” 不是有效日期:请写成 YYYY-MM-DD") from None
        else:  # when the server first registered its forms, in the centre's time
            since = (first_use.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None) if first_use
                     else dt.datetime.min)
        return cls(hb, {f.id: f for f in hb.forms}, version_ids,
                   {f.id: definition_digest(f) for f in hb.forms}, zone, regulation_versions, since)

    def now(self) -> dt.datetime:
        """Local wall-clock time of the centre (naive)."""
        return dt.datetime.now(self.timezone).replace(tzinfo=None)

    def local(self, utc: dt.datetime) -> dt.datetime:
        return utc.replace(tzinfo=dt.UTC).astimezone(self.timezone).replace(tzinfo=None)

    def utc(self, local: dt.datetime) -> dt.datetime:
        """The naive UTC time (as stored) of a local wall-clock time of the centre."""
        return local.replace(tzinfo=self.timezone).astimezone(dt.UTC).replace(tzinfo=None)

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
