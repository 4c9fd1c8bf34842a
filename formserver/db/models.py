"""The tables. Times are stored as naive UTC; pages show them in the centre's time zone.

Submissions never change in place: each version of the content is a `Revision`, and a submission points
at the form definition (`FormVersion`) it was filled against, so old records render after a form changes.
Photos live in the database, not on the app server's disk, so several app servers can share one database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = {"staff": "员工", "supervisor": "主管", "manager": "经理", "admin": "管理员"}
ROLE_RANK = {"staff": 0, "supervisor": 1, "manager": 2, "admin": 3}
STATUSES = {"submitted": "已提交", "deleted": "已删除"}

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    team: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def role_name(self) -> str:
        return ROLES.get(self.role, self.role)

    def at_least(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[role]


class LoginSession(Base):
    """A server-side login: the cookie carries the token, the table its hash. Deleting the row ends the
    session everywhere, which is how logout, password change and disabling a user take effect at once."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    user: Mapped[User] = relationship(lazy="joined")


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    user: Mapped[User] = relationship(lazy="joined")


class LoginFailure(Base):
    """One failed login, keyed by account ("user:NAME") and by address ("ip:ADDR") for throttling."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)


class FormVersion(Base):
    """A form definition as it was when someone filled it in (the loaded model, as JSON)."""

    __tablename__ = "form_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[str] = mapped_column(String(64))
    revision: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("form_id", "digest"),)


class Submission(Base):
    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)  # the client's submission id
    form_id: Mapped[str] = mapped_column(String(64))
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    team: Mapped[str] = mapped_column(String(64), default="")
    record_date: Mapped[dt.date] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    revision_count: Mapped[int] = mapped_column(Integer, default=1)
    content_digest: Mapped[str] = mapped_column(String(64))  # of the first revision: idempotency check
    faults: Mapped[int] = mapped_column(Integer, default=0)  # check items marked 异常
    shift: Mapped[str] = mapped_column(String(32), default="")  # the header's shift/area, as written, for the
    area: Mapped[str] = mapped_column(String(64), default="")  # today board (also in the values)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # When the phone filled it, for a submission queued offline and sent later (UTC, as the phone's clock
    # said). created_at, the server's receive time, is what deadlines and the board go by.
    client_filled_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    user: Mapped[User] = relationship(lazy="joined")
    form_version: Mapped[FormVersion] = relationship(lazy="select")
    revisions: Mapped[list[Revision]] = relationship(back_populates="submission", order_by="Revision.number",
                                                     lazy="select", cascade="all, delete-orphan")
    __table_args__ = (
        Index("ix_submissions_created", "created_at"),
        Index("ix_submissions_form_created", "form_id", "created_at"),
        Index("ix_submissions_user_created", "user_id", "created_at"),
        Index("ix_submissions_team_created", "team", "created_at"),
        Index("ix_submissions_record_date", "record_date"),  # date filters: 0.1 s → 15 ms at a million rows
        Index("ix_submissions_form_record_date", "form_id", "record_date"),  # the today board, the monthly report
    )


class Revision(Base):
    __tablename__ = "revisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # The form's score of these values (handbook.scores: e.g. 巡查合格率 in percent); None without one.
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    submission: Mapped[Submission] = relationship(back_populates="revisions")
    author: Mapped[User] = relationship(lazy="joined")
    __table_args__ = (UniqueConstraint("submission_id", "number"),)


class Draft(Base):
    """What someone has typed into a form not yet submitted: the raw posted fields, so that even values
    that do not validate yet come back exactly as typed."""

    __tablename__ = "drafts"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)  # the submission id it will become
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    form_id: Mapped[str] = mapped_column(String(64))
    fields: Mapped[list[Any]] = mapped_column(JSON)  # [[name, value], …]
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Photo(Base):
    __tablename__ = "photos"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    submission_uid: Mapped[str] = mapped_column(String(36), index=True)  # draft or submission it belongs to
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    address: Mapped[str] = mapped_column(String(64), default="")
    __table_args__ = (Index("ix_audit_events_target", "target"),)


# -- training ---------------------------------------------------------------------------------------


class RegulationVersion(Base):
    """A regulation as it was when people read it: its clauses as readers saw them, registered at start-up
    once per distinct content, so a later revision can be diffed against what someone acknowledged."""

    __tablename__ = "regulation_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    regulation_id: Mapped[str] = mapped_column(String(16))
    revision: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    clauses: Mapped[list[Any]] = mapped_column(JSON)  # [[clause id, text], …] in reading order
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("regulation_id", "digest"),)


class PathAssignment(Base):
    """Who is on which learning path, since when, due when, assigned by whom (None: the system's default or
    the admin CLI). Removing a path keeps the row (removed_at), so a removed default is not assigned again."""

    __tablename__ = "path_assignments"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    path_id: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    due_date: Mapped[dt.date] = mapped_column(Date)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    removed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    assigned_by: Mapped[User | None] = relationship(foreign_keys=[assigned_by_id], lazy="joined")
    __table_args__ = (UniqueConstraint("user_id", "path_id"),)


class Acknowledgement(Base):
    """Someone confirmed having read one version of a regulation."""

    __tablename__ = "acknowledgements"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    regulation_id: Mapped[str] = mapped_column(String(16))
    regulation_version_id: Mapped[int] = mapped_column(ForeignKey("regulation_versions.id"))
    path_id: Mapped[str] = mapped_column(String(64), default="")  # the path it was acknowledged on
    acknowledged_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[RegulationVersion] = relationship(lazy="select")  # its clauses are read only for a diff
    __table_args__ = (
        UniqueConstraint("user_id", "regulation_version_id"),  # acknowledging twice keeps one row
        Index("ix_acknowledgements_user_regulation", "user_id", "regulation_id"),
    )


class QuizAttempt(Base):
    """One quiz on one regulation: the questions and options as drawn (order, texts, which are correct, each
    option under a random key), so a reload shows the same quiz and scoring never depends on positions or on
    a question bank edited since; then the answers, per-question results, score and pass."""

    __tablename__ = "quiz_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    path_id: Mapped[str] = mapped_column(String(64))
    regulation_id: Mapped[str] = mapped_column(String(16))
    regulation_version_id: Mapped[int] = mapped_column(ForeignKey("regulation_versions.id"))
    questions: Mapped[list[Any]] = mapped_column(JSON)
    pass_mark: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # question id → [option keys]
    results: Mapped[list[Any] | None] = mapped_column(JSON)  # [{question, correct, points, refs}, …]
    score: Mapped[int | None] = mapped_column(Integer)  # percent of the points
    passed: Mapped[bool | None] = mapped_column(Boolean)
    user: Mapped[User] = relationship(lazy="joined")
    __table_args__ = (Index("ix_quiz_attempts_user_regulation", "user_id", "regulation_id"),)


# -- daily operations ---------------------------------------------------------------------------------


class Case(Base):
    """Something followed up step by step until it is closed: a corrective action raised by a failed check
    item, a complaint or a service ticket (a flow of checklists/rules/workflows.yaml), or an item a handover
    carried to the next shift (workflow_id "handover"). Its history is its `steps`."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(64))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id", ondelete="SET NULL"))
    form_id: Mapped[str] = mapped_column(String(64), default="")  # the form it came from
    item_id: Mapped[str] = mapped_column(String(100), default="")  # the item it came from ('' = the whole form)
    refs: Mapped[list[Any]] = mapped_column(JSON, default=list)  # clauses the item cites
    title: Mapped[str] = mapped_column(String(200))  # what
    area: Mapped[str] = mapped_column(String(64), default="")  # where
    photos: Mapped[list[Any]] = mapped_column(JSON, default=list)  # photo uids
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the flow's own fields, when it has no form
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # the deadline of the next step, if it has one
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    owner: Mapped[User | None] = relationship(lazy="joined")
    submission: Mapped[Submission | None] = relationship(lazy="select")
    steps: Mapped[list[CaseStep]] = relationship(back_populates="case", order_by="CaseStep.id", lazy="select",
                                                 cascade="all, delete-orphan")
    __table_args__ = (
        UniqueConstraint("workflow_id", "submission_id", "item_id"),  # a retried submit opens nothing twice
        Index("ix_cases_workflow_closed", "workflow_id", "closed_at"),
        Index("ix_cases_submission", "submission_id"),
    )


class CaseStep(Base):
    """One step of a case: who did what when (server clock), with the fields recorded at that step."""

    __tablename__ = "case_steps"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    case: Mapped[Case] = relationship(back_populates="steps")
    user: Mapped[User | None] = relationship(lazy="joined")


class Handover(Base):
    """A handover between two shifts: blocked while a no-handover condition holds (unless a supervisor took over
    the duty as KF-11.16 allows: override_by/override_at/override_reason are who took over, when, and the note
    of what was taken over), then completed when the incoming person confirms. Both times are the server's
    clock."""

    __tablename__ = "handovers"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), unique=True)
    shift: Mapped[str] = mapped_column(String(32), default="")
    area: Mapped[str] = mapped_column(String(64), default="")
    team: Mapped[str] = mapped_column(String(64), default="")
    outgoing_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    incoming_name: Mapped[str] = mapped_column(String(64), default="")
    incoming_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16))  # blocked | awaiting | completed
    blockers: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the blocking items answered 是
    handed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    taken_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    override_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    override_reason: Mapped[str] = mapped_column(Text, default="")
    override_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    submission: Mapped[Submission] = relationship(lazy="joined")
    outgoing: Mapped[User] = relationship(foreign_keys=[outgoing_id], lazy="joined")
    incoming: Mapped[User | None] = relationship(foreign_keys=[incoming_id], lazy="joined")
    override_by: Mapped[User | None] = relationship(foreign_keys=[override_by_id], lazy="joined")
    __table_args__ = (Index("ix_handovers_state", "state"),)


class SpotCheck(Base):
    """One record drawn for the day's quality spot check, and the supervisor's verdict once checked."""

    __tablename__ = "spot_checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    form_id: Mapped[str] = mapped_column(String(64))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    result: Mapped[str] = mapped_column(String(16), default="")  # '' (not yet) | pass | fail
    note: Mapped[str] = mapped_column(Text, default="")
    submission: Mapped[Submission] = relationship(lazy="joined")
    checked_by: Mapped[User | None] = relationship(lazy="joined")
    __table_args__ = (UniqueConstraint("day", "submission_id"), Index("ix_spot_checks_day", "day"))


class PenaltyRecord(Base):
    """A penalty or fine recorded against a person, citing the row of the penalty schedule it applies."""

    __tablename__ = "penalty_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    clause_id: Mapped[str] = mapped_column(String(16))  # a row of the penalties table, e.g. KF-21.31
    sanction: Mapped[str] = mapped_column(String(32), default="")
    fine: Mapped[int | None] = mapped_column(Integer)  # yuan
    on_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_reason: Mapped[str] = mapped_column(Text, default="")
    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id], lazy="joined")
    __table_args__ = (Index("ix_penalty_records_user_date", "user_id", "on_date"),
                      Index("ix_penalty_records_date", "on_date"))


class RosterEntry(Base):
    """The duty roster (排班表): one person on one shift of one day, in one area or none ('' = the whole
    centre). `shift` and `area` are ids of organisation.yaml; `team` is the person's team when rostered,
    so a supervisor's roster stays theirs when someone later moves team."""

    __tablename__ = "roster_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)  # the shift's first day (a night shift belongs to the day it starts)
    shift: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    area: Mapped[str] = mapped_column(String(32), default="")
    team: Mapped[str] = mapped_column(String(64), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    __table_args__ = (UniqueConstraint("day", "shift", "user_id"), Index("ix_roster_entries_day_shift", "day", "shift"),
                      Index("ix_roster_entries_user_day", "user_id", "day"))  # 我的排班, the handover's sides


class RosterSwap(Base):
    """调班: a rostered shift handed from one person to another, and who approved it (the attendance rules
    require approval). The roster entry itself is moved to `to_user`; this row is the history."""

    __tablename__ = "roster_swaps"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    shift: Mapped[str] = mapped_column(String(32))
    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    to_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    team: Mapped[str] = mapped_column(String(64), default="")  # the roster entry's team (whose swap history)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    from_user: Mapped[User] = relationship(foreign_keys=[from_user_id], lazy="joined")
    to_user: Mapped[User] = relationship(foreign_keys=[to_user_id], lazy="joined")
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id], lazy="joined")
    __table_args__ = (Index("ix_roster_swaps_day", "day"), Index("ix_roster_swaps_team_day", "team", "day"))


# -- notifications ------------------------------------------------------------------------------------


class Notification(Base):
    """One thing a person is told (the outbox and their inbox): written once per event and recipient, in the
    transaction that notices the event; `dedup_key` is unique, so noticing it again adds nothing."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # an event of notifications.yaml, or "summary"
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(300), default="")
    event_at: Mapped[dt.datetime] = mapped_column(DateTime)  # when it became due to be told (UTC)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    stale: Mapped[bool] = mapped_column(Boolean, default=False)  # found too late: in the inbox and a summary only
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # not sent after this (a summary instead)
    user: Mapped[User] = relationship(lazy="joined")
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),
                      Index("ix_notifications_event_at", "event_at"))  # the scheduling pass's look-back


class Delivery(Base):
    """One notification on one outside channel (e-mail, a group-chat bot): pending until a worker leases it
    (sending, lease_until), then sent, failed after its last attempt, or skipped (not configured, stale)."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    worker: Mapped[str] = mapped_column(String(100), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    notification: Mapped[Notification] = relationship(lazy="joined")
    __table_args__ = (UniqueConstraint("notification_id", "channel"),
                      Index("ix_deliveries_status_next", "status", "next_attempt_at"))


class NotifyPreference(Base):
    """A person's notification settings: an e-mail address, the outside channels they turned off, quiet
    hours (local HH:MM; none when equal) during which nothing but the inbox is used."""

    __tablename__ = "notify_preferences"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str] = mapped_column(String(200), default="")
    off: Mapped[list[Any]] = mapped_column(JSON, default=list)  # channel ids turned off
    quiet_start: Mapped[str] = mapped_column(String(5), default="")
    quiet_end: Mapped[str] = mapped_column(String(5), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


# -- patrol checkpoints -------------------------------------------------------------------------------


class CheckpointScan(Base):
    """A patrol's visit to a checkpoint (checklists/rules/checkpoints.yaml): who scanned its QR code when, by
    the server's clock, and the patrol record it belongs to (`patrol_uid`: the submission id the patrol form
    was opened with, perhaps not submitted yet). Scans of one person, area and shift share a patrol."""

    __tablename__ = "checkpoint_scans"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    checkpoint_id: Mapped[str] = mapped_column(String(64))
    area_id: Mapped[str] = mapped_column(String(32))
    shift: Mapped[str] = mapped_column(String(32), default="")  # shift id at the scan ('' outside every shift)
    day: Mapped[dt.date] = mapped_column(Date)  # the shift's first day, like the board's slots
    patrol_uid: Mapped[str] = mapped_column(String(36))
    scanned_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (Index("ix_checkpoint_scans_patrol_uid", "patrol_uid"),
                      Index("ix_checkpoint_scans_day", "day"),  # the board
                      Index("ix_checkpoint_scans_user_day", "user_id", "day"))  # the person's open patrol
