"""Shared fixtures: a SMALL valid source tree written inline, so each test can break one file.

The files are plain string constants (`ORG`, `TOPICS`, `REG`, `TABLE`, `QUIZ`, `FORM`), keyed by their
path in `MINI_FILES`. Line numbers matter to the tests that expect a problem on an exact line, so the
constants are written without a leading blank line and each file's layout is documented next to it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ORG_PATH = "regulations/organisation.yaml"
TOPICS_PATH = "regulations/topics.yaml"
REG_PATH = "regulations/KF-01-test.md"
TABLE_PATH = "regulations/tables/fines.yaml"
QUIZ_PATH = "regulations/quizzes/KF-01.yaml"
FORM_PATH = "checklists/patrol.yaml"
PATHS_PATH = "regulations/paths.yaml"

# 2 departments, 3 roles, 1 shift (lines 14–17, start on 16), 1 phone.
ORG = """\
name: 测试广场客户服务中心
short_name: 测试客服中心
company: 测试置业有限公司
doc_prefix: CS-KF
approver: 总经理
departments:
  - {id: desk, name: 总服务台, description: 前台接待}
  - {id: operations, name: 运营部}
roles:
  - {id: staff, name: 客服专员}
  - {id: supervisor, name: 客服主管}
  - {id: duty, name: 值班人员}
shifts:
  - id: early
    name: 早班
    start: "08:00"
    end: "16:00"
phones:
  - {id: hotline, name: 服务热线, number: "0371-6000 2071"}
"""

TOPICS = """\
- {id: general, title: 总则, description: 总体要求}
"""

# Front matter lines 1–23, body from line 24: preamble 25, heading 27, clauses on 29, 31, 35, table 37.
REG = """\
---
id: KF-01
title: 测试制度
topic: general
number: CS-KF-001
revision: "1.1"
department: operations
effective: 2026-02-01
applies_to: [staff, supervisor]
sources: [000_test.txt]
summary: 用于测试的小制度。
revisions:
  - revision: "1.0"
    date: 2026-01-01
    author: 运营部
    summary: 首次发布。
  - revision: "1.1"
    date: 2026-02-01
    author: 运营部
    summary: 增加罚款表。
    decisions:
      - 罚款标准合并为一张表。
---

本制度适用于{{ org.name }}全体员工。

## 基本要求

[KF-01.1] 客服人员须提前 5 分钟到岗。

[KF-01.2] 交接班时须完成巡查,见 [[KF-01.1]],填写 [[form:patrol]]。

## 处罚

[KF-01.3] 违反本制度的,按下表处理。

[[table:fines]]
"""

# Rows start on lines 5 and 11.
TABLE = """\
kind: penalties
regulation: KF-01
title: 罚款标准
rows:
  - id: KF-01.20
    offence: 迟到
    sanctions: [口头警告, 罚款]
    fine: 20
    fine_max: 50
    violates: [KF-01.1]
  - id: KF-01.21
    offence: 未完成巡查
    sanctions: [书面警告]
    condition: 半年内三次
    violates: [KF-01.2]
"""

# Questions start on lines 3 (single), 11 (multiple) and 20 (truefalse).
QUIZ = """\
regulation: KF-01
questions:
  - id: KF-01-Q1
    kind: single
    refs: [KF-01.1]
    question: 客服人员须提前几分钟到岗?
    options:
      - {text: 5 分钟, correct: true}
      - {text: 15 分钟}
    explanation: 见 KF-01.1。
  - id: KF-01-Q2
    kind: multiple
    refs: [KF-01.20]
    question: 迟到可能受到哪些处理?
    options:
      - {text: 口头警告, correct: true}
      - {text: 罚款, correct: true}
      - {text: 开除}
    explanation: 见罚款标准。
  - id: KF-01-Q3
    kind: truefalse
    refs: KF-01.2
    question: 交接班时须完成巡查。
    answer: true
    explanation: 见 KF-01.2。
"""

# Header 10–11; section 13 with check 16, number 17, choice 18, table 19 (columns 24–26); signature 28.
FORM = """\
id: patrol
title: 巡查检查表
number: CS-KF-F01
revision: "1.0"
serves: [KF-01.2]
orientation: portrait
roles: [duty, supervisor]
description: 巡查时逐项检查。
header:
  - {id: date, kind: date, label: 日期, required: true, prefill: today}
  - {id: shift, kind: choice, label: 班次, options: [早班, 晚班], required: true, prefill: shift}
sections:
  - title: 公共区域
    ref: KF-01.2
    items:
      - {id: corridor, kind: check, label: 走廊无杂物, required: true, ref: KF-01.2}
      - {id: temperature, kind: number, label: 室温, unit: ℃, min: 10, max: 35}
      - {id: area, kind: choice, label: 区域, options: [一层, 二层], multiple: true}
      - id: visitors
        kind: table
        label: 来访登记
        rows: 5
        columns:
          - {id: visitor, kind: text, label: 姓名}
          - {id: arrived, kind: time, label: 到达时间}
          - {id: note, kind: text, label: 备注, max_length: 50}
signatures:
  - {id: inspector_sign, kind: signature, label: 巡查人签名}
"""

# Not part of MINI_FILES (a project may have no learning paths); written by the tests that need it.
# Path fields on lines 1–6: id, title, roles, pass_mark, due_days, regulations.
PATHS = """\
- id: new-staff
  title: 新员工
  roles: [staff]
  pass_mark: 80
  due_days: 7
  regulations: [KF-01]
"""

MINI_FILES: dict[str, str] = {
    ORG_PATH: ORG,
    TOPICS_PATH: TOPICS,
    REG_PATH: REG,
    TABLE_PATH: TABLE,
    QUIZ_PATH: QUIZ,
    FORM_PATH: FORM,
}


def write_file(root: Path, relpath: str, content: str | bytes) -> Path:
    """(Re)write one file of a project; text is written as UTF-8, bytes as they are."""
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="\n")
    return path


def replace_once(text: str, old: str, new: str) -> str:
    """`text` with the single occurrence of `old` replaced; fails loudly when `old` is not unique."""
    count = text.count(old)
    assert count == 1, f"{old!r} occurs {count} times, expected exactly once"
    return text.replace(old, new)


def write_mini_project(root: Path) -> Path:
    for relpath, content in MINI_FILES.items():
        write_file(root, relpath, content)
    return root


@pytest.fixture
def mini_project(tmp_path: Path) -> Path:
    """Root of a small valid project (loads with zero problems)."""
    return write_mini_project(tmp_path / "project")


@pytest.fixture
def rewrite(mini_project: Path):
    """`rewrite(relpath, content)` replaces one file of the mini project and returns its path."""

    def _rewrite(relpath: str, content: str | bytes) -> Path:
        return write_file(mini_project, relpath, content)

    return _rewrite


# -- the form server -----------------------------------------------------------------------------


@pytest.fixture
def cheap_passwords(monkeypatch):
    """Password hashing at argon2's cheapest, for tests that log people in but do not test hashing (the full
    cost is half a second per login here). A module opts in with pytest.mark.usefixtures("cheap_passwords")."""
    from argon2 import PasswordHasher

    from formserver.accounts import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server_app(request, tmp_path_factory):
    """The form server on each database backend (session-wide; tables are emptied per test by `app`)."""
    from tests.server_support import drop_postgres_database, make_app, postgres_database

    instance = tmp_path_factory.mktemp(f"instance-{request.param}")
    if request.param == "sqlite":
        yield make_app(f"sqlite:///{instance / 'test.sqlite3'}", instance)
        return
    url, why = postgres_database()
    if url is None:
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(f"REQUIRE_POSTGRES is set (CI) but {why}")
        pytest.skip(why)
    app = make_app(url, instance)
    yield app
    app.extensions["db_engine"].dispose()
    drop_postgres_database(url)


@pytest.fixture
def app(server_app):
    from tests.server_support import empty_tables

    empty_tables(server_app)
    yield server_app


@pytest.fixture
def client(app):
    return app.test_client()
