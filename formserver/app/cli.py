"""Admin commands: `flask --app formserver <command>`.

    create-user NAME --role staff|supervisor|manager|admin [--display-name 张三] [--team desk]
    create-token NAME [--label …]        prints a new API token (shown once)
    list-tokens NAME / revoke-token ID    a user's tokens (id, label, created, revoked); revoke one
    reset-password NAME                   new password; the user's sessions end
    disable-user NAME / enable-user NAME  a disabled user's sessions and tokens stop working at once
    assign-path NAME PATH_ID [--due DATE] put a user on a learning path (regulations/paths.yaml)
    backup FILE / restore FILE            SQLite online backup, or pg_dump/pg_restore for PostgreSQL
    db-upgrade                            bring the schema up to date (also done at start)
    worker [--once]                       the notification worker: scheduling pass and deliveries (Ctrl-C stops)

Passwords come from a prompt, or from stdin when it is not a terminal (for scripts).
"""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select, update

from formserver.accounts import audit
from formserver.accounts.auth import end_all_sessions
from formserver.accounts.passwords import hash_password, password_problem
from formserver.base.inputs import clean_text, has_surrogate
from formserver.db import backup
from formserver.db.migrate import upgrade
from formserver.db.models import ROLES, ApiToken, User, utcnow


def _sessions():
    return current_app.extensions["db_sessions"]


def _read_password(username: str) -> str:
    if sys.stdin.isatty():
        password = click.prompt("密码", hide_input=True, confirmation_prompt="再输入一次")
    else:
        password = sys.stdin.readline().rstrip("\n")
    problem = password_problem(password, username)
    if problem:
        raise click.ClickException(problem)
    return password


def _user(db, username: str) -> User:
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"没有用户 “{username}”")
    return user


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.option("--role", type=click.Choice(list(ROLES)), required=True, help="staff|supervisor|manager|admin")
@click.option("--display-name", default="", help="姓名(页面上显示的名字),默认同用户名")
@click.option("--team", default="", help="班组/部门:主管看到本班组的记录")
def create_user(username: str, role: str, display_name: str, team: str) -> None:
    """Create a user (password from a prompt, or stdin)."""
    for name, value in (("用户名", username), ("姓名", display_name), ("班组", team)):
        if has_surrogate(value) or clean_text(value) != value:  # the rule of formserver.base.inputs, refused here
            raise click.ClickException(f"{name}含有控制字符、方向控制字符或无效字符,请重新输入")
    with _sessions()() as db:
        if db.scalar(select(User.id).where(User.username == username)):
            raise click.ClickException(f"用户 “{username}” 已存在")
    password = _read_password(username)
    with _sessions().begin() as db:
        user = User(username=username, display_name=display_name or username, role=role, team=team,
                    password_hash=hash_password(password))
        db.add(user)
        db.flush()
        audit.record(db, None, "user-created", username, role=role, team=team)
    click.echo(f"已创建用户 {username}({ROLES[role]})")


@click.command("create-token")
@with_appcontext
@click.argument("username")
@click.option("--label", default="", help="用途说明,如 “巡更系统”")
def create_token(username: str, label: str) -> None:
    """Print a new API token for USERNAME (it is shown only this once)."""
    from formserver.api.views import new_token

    token, digest = new_token()
    with _sessions().begin() as db:
        user = _user(db, username)
        db.add(ApiToken(token_hash=digest, user_id=user.id, label=label))
        audit.record(db, user, "token-created", username, label=label)
    click.echo(token)


@click.command("list-tokens")
@with_appcontext
@click.argument("username")
def list_tokens(username: str) -> None:
    """List USERNAME's API tokens: id, label, created, revoked (tokens themselves are never stored)."""
    with _sessions()() as db:
        user = _user(db, username)
        tokens = db.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)).all()
    if not tokens:
        click.echo(f"{username} 没有 API 令牌")
    for token in tokens:
        state = f"已吊销 {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "有效"
        click.echo(f"{token.id}\t{token.label or '-'}\t创建于 {token.created_at:%Y-%m-%d %H:%M}\t{state}")


@click.command("revoke-token")
@with_appcontext
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke one API token by its id (see list-tokens); it stops working at once."""
    with _sessions().begin() as db:
        token = db.get(ApiToken, token_id)
        if token is None:
            raise click.ClickException(f"没有编号为 {token_id} 的令牌")
        if token.revoked_at is not None:
            raise click.ClickException(f"令牌 {token_id} 已于 {token.revoked_at:%Y-%m-%d %H:%M} 吊销")
        token.revoked_at = utcnow()
        audit.record(db, token.user, "token-revoked", token.user.username, token=token_id, label=token.label)
    click.echo(f"已吊销令牌 {token_id}")


@click.command("reset-password")
@with_appcontext
@click.argument("username")
def reset_password(username: str) -> None:
    """Set a new password; every session of the user ends."""
    password = _read_password(username)
    with _sessions().begin() as db:
        user = _user(db, username)
        user.password_hash = hash_password(password)
        end_all_sessions(db, user.id)
        audit.record(db, user, "password-reset", username)
    click.echo(f"已重设 {username} 的密码,其所有登录已失效")


def _set_active(username: str, active: bool) -> None:
    with _sessions().begin() as db:
        user = _user(db, username)
        user.active = active
        if not active:
            end_all_sessions(db, user.id)
            db.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))
        audit.record(db, user, "user-enabled" if active else "user-disabled", username)


@click.command("disable-user")
@with_appcontext
@click.argument("username")
def disable_user(username: str) -> None:
    """Disable a user: their sessions end and their API tokens are revoked."""
    _set_active(username, False)
    click.echo(f"已停用 {username}:登录和 API 令牌均已失效")


@click.command("enable-user")
@with_appcontext
@click.argument("username")
def enable_user(username: str) -> None:
    """Enable a disabled user again (new tokens must be created)."""
    _set_active(username, True)
    click.echo(f"已启用 {username}")


@click.command("assign-path")
@with_appcontext
@click.argument("username")
@click.argument("path_id")
@click.option("--due", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="完成期限 YYYY-MM-DD,默认今天加上该路径的 due_days")
def assign_path(username: str, path_id: str, due) -> None:
    """Put USERNAME on the learning path PATH_ID (again, if it was removed)."""
    from formserver.forms.catalogue import Catalogue
    from formserver.training import assign

    cat: Catalogue = current_app.extensions["catalogue"]
    path = next((p for p in cat.handbook.paths if p.id == path_id), None)
    if path is None:
        known = "、".join(p.id for p in cat.handbook.paths)
        raise click.ClickException(f"没有学习路径 “{path_id}”。可选:{known}")
    with _sessions().begin() as db:
        user = _user(db, username)
        row = assign.assign(db, user, path, None, cat.now().date(), due.date() if due else None)
        due_date = row.due_date
    click.echo(f"已为 {username} 分配学习路径 {path.id}({path.title}),完成期限 {due_date.isoformat()}")


@click.command("backup")
@with_appcontext
@click.argument("target")
def backup_command(target: str) -> None:
    """Write a consistent backup of the database to TARGET, while the server keeps running."""
    try:
        info = backup.backup(current_app.extensions["db_engine"], target)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"已备份到 {target}({info})")


@click.command("restore")
@with_appcontext
@click.argument("source")
@click.option("--yes", is_flag=True, help="不再确认(会覆盖当前数据库)")
def restore_command(source: str, yes: bool) -> None:
    """Replace the database with the backup SOURCE. Stop the server first."""
    if not yes:
        click.confirm("恢复会覆盖当前数据库中的全部数据。请先停止服务器。继续吗?", abort=True)
    try:
        info = backup.restore(current_app.extensions["db_engine"], source)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"已从 {source} 恢复({info})")


@click.command("db-upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Bring the database schema up to date."""
    done = upgrade(current_app.extensions["db_engine"])
    click.echo("数据库结构已更新" if done else "数据库结构已是最新")


@click.command("status")
@with_appcontext
def status() -> None:
    """Where the database is, how many users and records it holds, and what to do first."""
    from sqlalchemy import func

    from formserver.db.models import Submission

    engine = current_app.extensions["db_engine"]
    with _sessions()() as db:
        users = db.scalar(select(func.count()).select_from(User))
        admins = db.scalar(select(func.count()).select_from(User).where(User.role == "admin", User.active))
        records = db.scalar(select(func.count()).select_from(Submission))
        twice = db.scalars(select(func.lower(Submission.uid)).group_by(func.lower(Submission.uid))
                           .having(func.count() > 1)).all()
    click.echo(f"数据库:{engine.url.render_as_string(hide_password=True)}")
    click.echo(f"用户 {users} 个(管理员 {admins} 个),记录 {records} 份")
    for uid in twice:  # left by clients before ids were canonical: see migration 0005
        click.echo(f"提交编号 {uid} 仅大小写不同而存了两份记录:请核对后删除其中一份(写明理由)")
    if not admins:
        click.echo("还没有管理员。创建第一个管理员(会提示输入密码):")
        click.echo("    .venv/bin/flask --app formserver create-user admin --role admin --display-name 管理员")


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="只做一次排程检查并发送到期的通知,然后退出")
def worker_command(once: bool) -> None:
    """Run the notification worker: the scheduling pass and the deliveries, until stopped."""
    import contextlib
    import gc
    import logging
    import signal

    from formserver.notify import scheduler, worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app, engine = current_app._get_current_object(), current_app.extensions["db_engine"]
    config = dict(app.config)

    def schedule_pass() -> int:
        return scheduler.run_pass(engine, app.extensions["catalogue"], config)

    if once:
        written = schedule_pass()
        sent = 0
        while (n := worker.deliver(engine, config, worker.worker_id())):
            sent += n
        click.echo(f"写入通知 {written} 条,处理发送 {sent} 条")
        return
    # The loaded handbook is a large, long-lived heap: frozen, full collections no longer walk it (they cost
    # the scheduling pass ~80 ms every dozen passes).
    gc.freeze()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    with contextlib.suppress(KeyboardInterrupt):
        worker.run(engine, config, schedule_pass, lambda: bool(stopping))
    click.echo("通知服务已停止")


def init_app(app: Flask) -> None:
    for command in (status, create_user, create_token, list_tokens, revoke_token, reset_password, disable_user,
                    enable_user, assign_path, backup_command, restore_command, db_upgrade, worker_command):
        app.cli.add_command(command)

