"""Group commit: the writes of concurrent requests share one transaction and one COMMIT.

Under load, one transaction per API submission made the write lock the bottleneck: while a request held
it (BEGIN IMMEDIATE … COMMIT, about 1 ms of work), the holder kept losing the CPU and the GIL to the other
threads and processes, so each turn took 5 ms or more while every other writer queued behind it. Here a
request that finds no write of its process under way becomes the writer: it takes every item waiting
(its own included), hands them to their handler in one transaction, commits once, and answers each; the
requests whose items it took just wait. With no concurrency that is a transaction per request, as before;
a busy server makes a few large turns instead of many small ones.

Guarantees, the same as a transaction per request:
- a caller gets its outcome only after the COMMIT that stored its item has returned;
- a handler returns one outcome per item: a result, or an exception refusing that item, which must then
  have written nothing for it (see records.store_many), so that the other items stand;
- if a handler raises (or the commit fails), the whole batch is rolled back and each of its items is
  handled again alone, in a transaction of its own: only the failing one fails, and no outcome depends on
  which other items happened to share its batch.
Handlers must only use the connection given (no Flask context): they may run in another request's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine

Handler = Callable[[Connection, list[Any]], Sequence[Any]]  # (connection, items) → an outcome per item


class _Job:
    __slots__ = ("done", "handler", "item", "outcome")

    def __init__(self, handler: Handler, item: Any):
        self.handler, self.item = handler, item
        self.done = False
        self.outcome: Any = None

    def answer(self, outcome: Any) -> None:
        self.outcome, self.done = outcome, True

    def result(self) -> Any:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


class GroupCommit:
    def __init__(self, engine: Engine, begin: Callable[[Engine], Any]):
        """`begin(engine)`: a context manager of a write transaction's connection (db.write_transaction)."""
        self._engine = engine
        self._begin = begin
        self._turn = threading.Condition()
        self._waiting: list[_Job] = []
        self._writing = False

    def run(self, handler: Handler, item: Any) -> Any:
        """The outcome of `item` once the transaction storing it has committed (raised if an exception)."""
        job = _Job(handler, item)
        with self._turn:
            self._waiting.append(job)
            while self._writing and not job.done:
                self._turn.wait()  # a writer answers its batch, then wakes everyone
            if job.done:  # another request wrote it
                return job.result()
            self._writing = True  # our turn: everything waiting now, ours included, is this batch
            batch, self._waiting = self._waiting, []
        try:
            self._write(batch)
        finally:
            with self._turn:
                self._writing = False
                self._turn.notify_all()
        return job.result()

    def _write(self, batch: list[_Job]) -> None:
        try:
            self._write_together(batch)
        except BaseException as error:  # no caller may be left waiting, whatever happened
            for job in batch:
                if not job.done:
                    job.answer(error)
            raise

    def _write_together(self, batch: list[_Job]) -> None:
        by_handler: dict[Handler, list[_Job]] = {}
        for job in batch:
            by_handler.setdefault(job.handler, []).append(job)
        try:
            with self._begin(self._engine) as connection:
                outcomes = [(job, outcome) for handler, jobs in by_handler.items()
                            for job, outcome in zip(jobs, handler(connection, [j.item for j in jobs]), strict=True)]
        except Exception as error:
            if len(batch) == 1:
                batch[0].answer(error)
                return
            for job in batch:  # rolled back: each again on its own, so only the failing one fails
                self._write_together([job])
            return
        for job, outcome in outcomes:  # committed: now, and only now, the answers
            job.answer(outcome)
