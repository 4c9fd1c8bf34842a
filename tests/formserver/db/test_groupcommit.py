"""API submissions written in shared transactions (formserver.db.groupcommit, records.store_many): each outcome is
what writing them one after another would give, a failing item fails alone, and nothing is answered before
its transaction commits."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, func, insert, select, text

from formserver import db
from formserver.db.fastsql import FastStatement
from formserver.db.groupcommit import GroupCommit
from formserver.db.models import AuditEvent, Revision, Submission, User
from formserver.records import store as records
from tests.server_support import create_user, patrol_values

# -- the batching itself, on a table of its own ------------------------------------------------------


@pytest.fixture
def numbers(tmp_path):
    """(GroupCommit, engine) over an SQLite table `numbers (n INTEGER UNIQUE)`."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'numbers.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE numbers (n INTEGER UNIQUE)"))
    yield GroupCommit(engine, db.write_transaction), engine
    engine.dispose()


def insert_numbers(connection: Connection, items: list[Any]) -> list[Any]:
    """Inserts each number; refuses (answers ValueError for) negative ones; raises for the string "boom"."""
    outcomes: list[Any] = []
    for n in items:
        if n == "boom":
            raise RuntimeError("boom")
        if n < 0:
            outcomes.append(ValueError(n))
            continue
        connection.execute(text("INSERT INTO numbers (n) VALUES (:n)"), {"n": n})
        outcomes.append(n * 10)
    return outcomes


def stored(engine) -> list[int]:
    with engine.connect() as connection:
        return sorted(connection.execute(text("SELECT n FROM numbers")).scalars())


def run_together(group: GroupCommit, items: list[Any]) -> dict[Any, Any]:
    """Each item from a thread of its own, all started at once: item → result or the exception raised."""
    outcomes: dict[Any, Any] = {}
    start = threading.Barrier(len(items))

    def one(item: Any) -> None:
        start.wait()
        try:
            outcomes[item] = group.run(insert_numbers, item)
        except Exception as error:
            outcomes[item] = error

    threads = [threading.Thread(target=one, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def test_each_caller_gets_its_own_outcome(numbers):
    group, engine = numbers
    outcomes = run_together(group, [1, 2, 3, -4, 5, 6, 7, 8])
    assert {k: v for k, v in outcomes.items() if k != -4} == {n: n * 10 for n in (1, 2, 3, 5, 6, 7, 8)}
    assert isinstance(outcomes[-4], ValueError)  # refused alone
    assert stored(engine) == [1, 2, 3, 5, 6, 7, 8]


def test_a_failing_item_fails_alone(numbers):
    group, engine = numbers
    outcomes = run_together(group, [1, 2, "boom", 3, 4, 1])
    assert isinstance(outcomes["boom"], RuntimeError)
    assert outcomes[2] == 20 and outcomes[3] == 30 and outcomes[4] == 40
    assert stored(engine) == [1, 2, 3, 4]  # the second 1 broke the unique constraint, in its own transaction


def test_nothing_is_answered_before_commit(numbers, monkeypatch):
    group, engine = numbers
    seen: list[list[int]] = []

    def spy(connection: Connection, items: list[Any]) -> list[Any]:
        outcomes = insert_numbers(connection, items)
        seen.append(stored(engine))  # another connection: sees only what was committed
        return outcomes

    assert group.run(spy, 7) == 70
    assert seen == [[]] and stored(engine) == [7]


# -- records.store_many ------------------------------------------------------------------------------


class Person:
    def __init__(self, app: Flask, username: str):
        create_user(app, username)
        with app.extensions["db_sessions"]() as session:
            self.id, self.team = session.execute(select(User.id, User.team).where(User.username == username)).one()
        self.username = username


def new(app: Flask, person: Person, uid: str, **changes) -> records.NewSubmission:
    cat = app.extensions["catalogue"]
    form = cat.forms["patrol"]
    with app.test_request_context():
        return records.prepare(person, form, cat.version_ids[form.id], uid, patrol_values(app, **changes),
                               cat.now().date(), via="api")


def store(app: Flask, news: list[records.NewSubmission]) -> list[Any]:
    with db.write_transaction(app.extensions["db_engine"]) as connection:
        return records.store_many(connection, news)


def count(app: Flask, model, *where) -> int:
    with app.extensions["db_sessions"]() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


SUBMIT = AuditEvent.action == "submit"


def test_a_batch_is_judged_as_if_one_after_another(app):
    zhang, li = Person(app, "zhang"), Person(app, "li")
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    outcomes = store(app, [new(app, zhang, a), new(app, zhang, a), new(app, zhang, b),
                           new(app, zhang, b, cctv="fault", cctv_note="另一份"), new(app, li, a),
                           new(app, zhang, c)])
    created, replay, other, clash, taken, third = outcomes
    assert created.created and not replay.created and replay.id == created.id
    assert other.created and isinstance(clash, records.Conflict)
    assert isinstance(taken, records.Conflict)  # the same content, but not the same person
    assert third.created
    assert count(app, Submission) == 3 and count(app, Revision) == 3 and count(app, AuditEvent, SUBMIT) == 3

    again = store(app, [new(app, zhang, a), new(app, zhang, c, findings="改了")])
    assert not again[0].created and again[0].id == created.id and isinstance(again[1], records.Conflict)
    assert count(app, Submission) == 3 and count(app, AuditEvent, SUBMIT) == 3


def test_photos_that_are_not_ones_own_refuse_only_that_submission(app):
    zhang = Person(app, "zhang")
    good, bad = str(uuid.uuid4()), str(uuid.uuid4())
    outcomes = store(app, [new(app, zhang, good), new(app, zhang, bad, cctv="fault", cctv_note="见照片",
                                                     cctv_photos=[str(uuid.uuid4())])])
    assert outcomes[0].created and isinstance(outcomes[1], records.BadPhotos)
    assert count(app, Submission) == 1


def test_concurrent_api_submissions_are_each_stored_once(app):
    """Many clients at once (the test client is thread-safe): every 201 stored exactly once, replays answered
    with the stored record."""
    create_user(app, "zhang")
    result = app.test_cli_runner().invoke(args=["create-token", "zhang"])
    headers = {"Authorization": f"Bearer {result.output.strip().splitlines()[-1]}"}
    uids = [str(uuid.uuid4()) for _ in range(12)]
    answers: list[tuple[int, str, bool]] = []

    def post(uid: str) -> None:
        response = app.test_client().post("/api/v1/submissions", headers=headers, json={
            "form": "patrol", "submission_id": uid, "values": patrol_values(app)})
        answers.append((response.status_code, response.json.get("submission_id"),
                        "Idempotent-Replayed" in response.headers))

    threads = [threading.Thread(target=post, args=(uid,)) for uid in uids + uids[:4]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(a[:2] for a in answers) == sorted((201, uid) for uid in uids + uids[:4])
    assert sum(replayed for *_, replayed in answers) == 4
    with app.extensions["db_sessions"]() as session:
        assert sorted(session.scalars(select(Submission.uid))) == sorted(uids)


def test_a_fast_insert_must_set_every_column_with_a_python_default():
    """fastsql skips SQLAlchemy's column defaults: an INSERT leaving one out would store NULL, so it is refused
    when built (a column added to the model later fails loudly at start, not silently per row)."""
    with pytest.raises(ValueError, match="status"):
        FastStatement(insert(Submission.__table__), [c for c in records.SUBMISSION_COLUMNS if c != "status"])
    FastStatement(insert(Submission.__table__), records.SUBMISSION_COLUMNS)
