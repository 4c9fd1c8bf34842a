"""Patrol checkpoints (checklists/rules/checkpoints.yaml): scanning a checkpoint's QR code (`/qr/<id>`)
records the visit by the server's clock and opens the patrol form for its area; the record page lists the
checkpoints a patrol scanned and missed; the today board shows each route as 完成 / 部分 / 未巡.

Scans of one person in one area and shift belong to one patrol: its submission id (the form's
`submission_id`) is chosen at the first scan, and later scans reuse it until that patrol is submitted."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from flask import Blueprint, Flask, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from formserver import db
from formserver.accounts.access import requires
from formserver.base.errors import zh_abort
from formserver.base.inputs import canonical_uid
from formserver.db.models import CheckpointScan, Draft, Submission, User
from formserver.forms.catalogue import catalogue
from formserver.operations import schedule
from formserver.records import hooks
from handbook.formmodel import Form
from handbook.rules import Checkpoint, Checkpoints

bp = Blueprint("checkpoints", __name__)
ROUTE_STATUS = {"done": "完成", "partial": "部分", "none": "未巡"}
UNKNOWN = ("没有编号为 “{id}” 的巡更点:二维码可能已作废或贴错了。请告知客服主管,"
           "并从首页打开巡查检查表填写本次巡查。")


@dataclass
class Visit:
    """What one patrol scanned of its area's route (times local)."""

    area_id: str
    area: str  # the area's name
    scanned: list[tuple[Checkpoint, dt.datetime]]  # in the order scanned; may include another area's
    missing: list[Checkpoint]  # the area's checkpoints not scanned

    @property
    def on_route(self) -> int:
        return sum(1 for p, _ in self.scanned if p.area == self.area_id)

    @property
    def total(self) -> int:
        return self.on_route + len(self.missing)

    @property
    def status_name(self) -> str:
        return ROUTE_STATUS[route_status(self.on_route, self.total)]


@dataclass
class Route:
    """One area's patrol route on one day: how many of its checkpoints anyone in scope scanned."""

    area: str
    total: int
    scanned: int
    status: str  # done | partial | none
    last: dt.datetime | None = None  # local
    people: list[str] = field(default_factory=list)

    @property
    def status_name(self) -> str:
        return ROUTE_STATUS[self.status]


def route_status(scanned: int, total: int) -> str:
    return "done" if total and scanned >= total else "partial" if scanned else "none"


def _points() -> Checkpoints | None:
    return catalogue().handbook.rules.checkpoints


def _area_id(name: str) -> str:
    return next((a.id for a in catalogue().handbook.organisation.areas.values() if a.name == name), "")


def _submitted(uid: str) -> bool:
    return db.session().scalar(select(Submission.id).where(Submission.uid == uid)) is not None


@bp.get("/qr/<checkpoint_id>")
@requires("staff")
def scan(checkpoint_id: str):
    points = _points()
    point = points.get(checkpoint_id) if points is not None else None
    if point is None:
        zh_abort(404, UNKNOWN.format(id=checkpoint_id[:60]))
    cat = catalogue()
    now = cat.now()
    shift = cat.current_shift(now)
    day = schedule.shift_day(shift, now) if shift else now.date()
    shift_id = shift.id if shift else ""
    with db.write() as w:
        opened = w.scalars(
            select(CheckpointScan.patrol_uid)
            .where(CheckpointScan.user_id == current_user.id, CheckpointScan.day == day,
                   CheckpointScan.area_id == point.area, CheckpointScan.shift == shift_id,
                   CheckpointScan.patrol_uid.not_in(select(Submission.uid)))
            .order_by(CheckpointScan.scanned_at.desc(), CheckpointScan.id.desc()).limit(1)).first()
        uid = opened or str(uuid.uuid4())
        w.add(CheckpointScan(user_id=current_user.id, checkpoint_id=point.id, area_id=point.area, shift=shift_id,
                             day=day, patrol_uid=uid, scanned_at=cat.utc(now)))
        has_draft = w.scalar(select(Draft.id).where(Draft.uid == uid, Draft.user_id == current_user.id)) is not None
    visit = visit_of(uid, point.area)
    flash(f"已记录到达 {point.name} {now.strftime('%H:%M')}(本次巡查已扫 {visit.on_route}/{visit.total} 个点)")
    if has_draft:  # what was typed before this scan comes back with it
        return redirect(url_for("fill.new", form_id=points.form, draft=uid), code=303)
    return redirect(url_for("fill.new", form_id=points.form, patrol=uid), code=303)


def visit_of(uid: str, area_id: str) -> Visit:
    """The checkpoints patrol `uid` scanned (each at its first scan) and those of `area_id` it did not."""
    points = _points()
    cat = catalogue()
    first: dict[str, dt.datetime] = {}
    for checkpoint_id, at in db.session().execute(
            select(CheckpointScan.checkpoint_id, CheckpointScan.scanned_at)
            .where(CheckpointScan.patrol_uid == uid).order_by(CheckpointScan.scanned_at, CheckpointScan.id)):
        first.setdefault(checkpoint_id, cat.local(at))
    scanned = [(p, first[p.id]) for p in points.points if p.id in first] if points else []
    scanned.sort(key=lambda pair: pair[1])
    missing = [p for p in points.of_area(area_id) if p.id not in first] if points else []
    area = cat.handbook.organisation.areas.get(area_id)
    return Visit(area_id, area.name if area else "", scanned, missing)


def _scan_area(uid: str) -> str:
    return db.session().scalar(select(CheckpointScan.area_id).where(CheckpointScan.patrol_uid == uid)
                               .order_by(CheckpointScan.scanned_at.desc()).limit(1)) or ""


@bp.app_template_global()
def checkpoint_visit(submission: Submission) -> Visit | None:
    """For a patrol record: the checkpoints it scanned and missed (None for other forms, or no route)."""
    points = _points()
    if points is None or submission.form_id != points.form:
        return None
    area_id = _area_id(submission.area) or _scan_area(submission.uid)
    visit = visit_of(submission.uid, area_id)
    return visit if visit.scanned or visit.missing else None


def fill_context(form: Form) -> dict[str, object]:
    """On the patrol form opened from a scan (or its draft): what this patrol has scanned so far."""
    points = _points()
    if points is None or form.id != points.form:
        return {}
    uid = canonical_uid(request.args.get("patrol") or request.args.get("draft") or request.form.get(
        "submission_id") or "")
    area_id = _scan_area(uid) if uid else ""
    return {"checkpoint_fill": visit_of(uid, area_id)} if area_id else {}


def prefill(form: Form, formdata: MultiDict) -> None:
    """`?patrol=<uid>` (the scan's redirect): the scan's area and the patrol's submission id, so every scan of
    this patrol and the record it becomes are one."""
    points = _points()
    uid = canonical_uid(request.args.get("patrol", ""))
    if points is None or form.id != points.form or not uid or _submitted(uid):
        return
    scan = db.session().scalar(select(CheckpointScan).where(CheckpointScan.patrol_uid == uid,
                                                             CheckpointScan.user_id == current_user.id)
                               .order_by(CheckpointScan.scanned_at.desc()).limit(1))
    if scan is None:
        return
    area = catalogue().handbook.organisation.areas.get(scan.area_id)
    if area is not None:
        formdata.setlist("area", [area.name])
    formdata.setlist("submission_id", [uid])


def routes_of(day: dt.date, team: str | None) -> list[Route]:
    """Each area's route on `day` (the shift's day, as the board's slots): 完成 when every checkpoint was
    scanned, 部分 when some, 未巡 when none; scans by people of `team` (None: everyone's)."""
    points = _points()
    if points is None:
        return []
    cat = catalogue()
    query = (select(CheckpointScan.checkpoint_id, CheckpointScan.scanned_at, User.display_name)
             .join(User, User.id == CheckpointScan.user_id).where(CheckpointScan.day == day)
             .order_by(CheckpointScan.scanned_at))
    if team is not None:
        query = query.where(User.team == team)
    seen: dict[str, list[tuple[dt.datetime, str]]] = {}
    for checkpoint_id, at, person in db.session().execute(query):
        seen.setdefault(checkpoint_id, []).append((cat.local(at), person))
    routes = []
    for area_id in points.areas():
        route = points.of_area(area_id)
        hits = [seen[p.id] for p in route if p.id in seen]
        times = [at for scans in hits for at, _ in scans]
        people = list(dict.fromkeys(person for scans in hits for _, person in scans))
        area = cat.handbook.organisation.areas.get(area_id)
        routes.append(Route(area.name if area else area_id, len(route), len(hits), route_status(len(hits), len(route)),
                            max(times) if times else None, people))
    return routes


def init_app(app: Flask) -> None:
    """The checkpoints' part in the patrol form's page: the scan's area and patrol id, and what it scanned."""
    record_hooks = hooks.of(app)
    record_hooks.prefill.append(prefill)
    record_hooks.fill_context.append(fill_context)
