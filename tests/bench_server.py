"""Benchmark: the form server under load, measured against the least a durable endpoint can do.

    .venv/bin/python -m tests.bench_server [--duration 10s] [--connections 32] [--rows 1000000]

Writes (one run, side by side, same gunicorn settings: 2 workers, gthread with 4 threads each):
- baseline: `tests/bench_baseline_app.py`, a bare Flask app that checks a bearer token and inserts one row
  durably into SQLite (WAL, synchronous=FULL, BEGIN IMMEDIATE, INSERT … ON CONFLICT DO NOTHING);
- ours: POST /api/v1/submissions of a valid patrol (the real validation, idempotency, audit event).
Both are driven by `wrk -t2 -c32 --latency` with the same Lua script: a unique submission id per request
(thread number + counter), every 10th request re-sending the id before it (concurrent duplicates). Each
201's id is collected; afterwards every acknowledged id must be stored exactly once.
Targets: ours ≥ 40 % of the baseline's requests/s, p99 ≤ 100 ms, nothing lost or duplicated.

Reads, on a database of `--rows` submissions (seeded once through the app's migrations into
.cache/bench/, keyed by schema head; about 2 minutes for a million rows, reused afterwards):
- the records list (supervisor and manager, several filters, `--list-requests` each): p95 ≤ 150 ms;
- CSV export of every row over HTTP: ≥ 50,000 rows/s, and the worker's peak memory no higher for 1M rows
  than for 100k (streamed, not built in memory).

gthread rather than sync workers: sync workers close the connection after every response (no keep-alive),
and a 1M-row export would outlive gunicorn's worker timeout, since a busy sync worker cannot heartbeat.
Targets are reported as MET/MISSED; the exit status is 0 either way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from tests.live_server import PASSWORD, ROOT, Gunicorn, flask_cli, patrol_values, user_with_token

CACHE = ROOT / ".cache" / "bench"
SEED_VERSION = 1  # bump when the seeded data changes shape
TARGET_RATIO, TARGET_P99_MS, TARGET_LIST_P95_MS, TARGET_EXPORT_ROWS_S = 0.40, 100.0, 150.0, 50_000

LUA = r"""
-- One id per request: thread number + counter; every RESEND-th request re-sends the previous id.
local threads = {}
local next_thread = 0
function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_no", next_thread)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  acked = {}
  statuses = {}
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. TOKEN
end

local function uid(n)
  return string.format("%08x-0000-4000-8000-%012x", RUN * 1000 + thread_no, n)
end

function request()
  counter = counter + 1
  local n = counter
  if RESEND > 0 and counter % RESEND == 0 then n = counter - 1 end
  local body = '{"form": "patrol", "submission_id": "' .. uid(n) .. '", "values": ' .. VALUES .. '}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 then
    local id = string.match(body, '"submission_id": ?"([%x%-]+)"')
    if id then acked[id] = true end
  end
end

function done(summary, latency, requests)
  local out = io.open(OUT, "w")
  out:write(string.format("requests %d\nduration_us %d\np99_us %d\np50_us %d\n", summary.requests,
    summary.duration, latency:percentile(99), latency:percentile(50)))
  local e = summary.errors
  out:write(string.format("errors %d\n", e.connect + e.read + e.write + e.status + e.timeout))
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do out:write(string.format("status %d %d\n", status, n)) end
    for id, _ in pairs(thread:get("acked")) do out:write("acked " .. id .. "\n") end
  end
  out:close()
end
"""


def lua_script(path: Path, out: Path, token: str, values: dict, run: int, resend: int) -> Path:
    values_json = json.dumps(values, ensure_ascii=False)
    head = (f"TOKEN = [==[{token}]==]\nOUT = [==[{out}]==]\nVALUES = [==[{values_json}]==]\n"
            f"RUN = {run}\nRESEND = {resend}\n")
    path.write_text(head + LUA, encoding="utf-8")
    return path


def run_wrk(args: argparse.Namespace, url: str, script: Path, out: Path) -> dict[str, Any]:
    subprocess.run(["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}", "--latency",
                    "--timeout", "10s", "-s", str(script), url], check=True, capture_output=True, text=True)
    result: dict[str, Any] = {"statuses": {}, "acked": set()}
    for line in out.read_text().splitlines():
        key, _, rest = line.partition(" ")
        if key == "acked":
            result["acked"].add(rest)
        elif key == "status":
            status, n = rest.split()
            result["statuses"][int(status)] = result["statuses"].get(int(status), 0) + int(n)
        else:
            result[key] = int(rest)
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def stored(db_path: Path) -> tuple[set[str], int]:
    """(distinct ids stored, ids stored more than once) of a table `submissions` with a `uid` column."""
    import sqlite3

    with sqlite3.connect(db_path) as connection:
        uids = [row[0] for row in connection.execute("SELECT uid FROM submissions")]
        dupes = connection.execute("SELECT count(*) FROM (SELECT uid FROM submissions GROUP BY uid "
                                   "HAVING count(*) > 1)").fetchone()[0]
    connection.close()
    return set(uids), dupes


def bench_writes(args: argparse.Namespace, tmp: Path) -> dict[str, dict[str, Any]]:
    gunicorn = {"workers": args.workers, "worker_class": args.worker_class, "threads": args.gthreads,
                "reuse_port": args.reuse_port}
    results = {}
    # ours: a fresh database, a staff user and a token made with the admin CLI
    ours_db = tmp / "ours.sqlite3"
    ours_url = f"sqlite:///{ours_db}"
    token = user_with_token(ours_url, "bench", role="staff")
    with Gunicorn(ours_url, log=tmp / "ours.log", **gunicorn) as server:
        values = patrol_values(server.url, token)
    base_db = tmp / "baseline.sqlite3"
    base_token = "baseline-" + uuid.uuid4().hex
    runs = [("baseline", base_db, Gunicorn(f"sqlite:///{base_db}", app="tests.bench_baseline_app:create_app()",
                                           log=tmp / "baseline.log",
                                           env={"BENCH_DB": str(base_db), "BENCH_TOKEN": base_token}, **gunicorn),
             "/submissions", base_token),
            ("ours", ours_db, None, "/api/v1/submissions", token)]
    for run, (name, db_path, server, path, run_token) in enumerate(runs, start=1):
        server = server or Gunicorn(ours_url, log=tmp / "ours.log", **gunicorn)
        with server:
            time.sleep(0.5 + server.boot_seconds)  # every worker booted, not just the first to answer
            out = tmp / f"{name}.out"
            script = lua_script(tmp / f"{name}.lua", out, run_token, values, run, args.resend)
            result = run_wrk(args, server.url + path, script, out)
        ids, dupes = stored(db_path)
        result["lost"] = len(result["acked"] - ids)
        result["duplicated"] = dupes
        result["unacked_stored"] = len(ids - result["acked"])  # in flight when wrk stopped
        results[name] = result
    return results


# -- reads on a million records ------------------------------------------------------------------


def _value(item: Any, rng: random.Random, day: dt.date) -> Any:
    """A plausible stored value for an item (the format in formserver/webforms.py's docstring)."""
    kind = item.kind
    if kind == "check":
        return "fault" if rng.random() < 0.03 else "ok"
    if kind == "yesno":
        return rng.choice(("yes", "no"))
    if kind in ("text", "person", "signature"):
        return rng.choice(("张三", "李四", "王五", "赵六", "陈晓明", "刘洋"))
    if kind == "textarea":
        return rng.choice(("", "情况正常,无异常。", "已通知工程部处理,明日复查。"))
    if kind == "number":
        low = item.min if item.min is not None else 0
        high = item.max if item.max is not None else low + 100
        return round(rng.uniform(float(low), float(high)), 1)
    if kind == "date":
        return day.isoformat()
    if kind == "time":
        return f"{rng.randrange(8, 22):02d}:{rng.randrange(60):02d}"
    if kind == "datetime":
        return f"{day.isoformat()}T{rng.randrange(8, 22):02d}:{rng.randrange(60):02d}"
    if kind == "choice":
        options = list(item.options or ["其他"])
        return rng.sample(options, min(2, len(options))) if item.multiple else rng.choice(options)
    if kind == "table":
        return [{c.id: _value(c, rng, day) for c in item.columns} for _ in range(rng.randrange(1, 4))]
    return None  # photos: none in the seeded data


def _values(form: Any, rng: random.Random, day: dt.date) -> dict[str, Any]:
    values = {}
    for item in form.all_items():
        value = _value(item, rng, day)
        if value not in (None, ""):
            values[item.id] = value
    return values


TEAMS = ("desk", "security", "cleaning", "engineering")


def seed(path: Path, rows: int) -> None:
    """A database made by the app's migrations, with users in 4 teams and `rows` submissions over two years."""
    from sqlalchemy import insert

    from formserver.accounts.passwords import hash_password
    from formserver.db import make_engine
    from formserver.db.migrate import upgrade
    from formserver.db.models import Revision, Submission, User
    from formserver.forms.catalogue import Catalogue
    from formserver.forms.formdefs import register_versions
    from formserver.records.store import content_digest, count_faults, record_date, summary
    from handbook.load import require_handbook

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    hb = require_handbook(ROOT)
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        version_ids = register_versions(session, hb.forms)
        session.commit()
    forms = list(hb.forms)
    password = hash_password(PASSWORD)
    users = [{"id": 1, "username": "manager", "display_name": "经理", "role": "manager", "team": "",
              "password_hash": password, "active": True}]
    for t, team in enumerate(TEAMS):
        users.append({"id": len(users) + 1, "username": f"sup-{team}", "display_name": f"主管{t}",
                      "role": "supervisor", "team": team, "password_hash": password, "active": True})
        for s in range(12):
            users.append({"id": len(users) + 1, "username": f"staff-{team}-{s:02d}", "display_name": f"员工{t}{s:02d}",
                          "role": "staff", "team": team, "password_hash": password, "active": True})
    staff = [u for u in users if u["role"] == "staff"]
    rng = random.Random(2026)
    tz = Catalogue(hb, {}, {}, {}).timezone
    start = dt.datetime(2024, 11, 1)
    span = dt.timedelta(days=730).total_seconds()
    # a few distinct value sets per form, so JSON sizes are realistic without generating a million
    samples = {f.id: [_values(f, rng, dt.date(2026, 1, 1)) for _ in range(20)] for f in forms}
    weights = [8 if f.id == "patrol" else 1 for f in forms]
    batch = 20_000
    with engine.connect() as connection:
        connection.connection.driver_connection.execute("PRAGMA synchronous=OFF")  # a cache, rebuilt if lost
        connection.execute(insert(User), users)
        sub_id = rev_id = 0
        while sub_id < rows:
            submissions, revisions = [], []
            for _ in range(min(batch, rows - sub_id)):
                sub_id += 1
                form = rng.choices(forms, weights)[0]
                user = rng.choice(staff)
                created = start + dt.timedelta(seconds=span * sub_id / rows + rng.random())
                day = created.replace(tzinfo=dt.UTC).astimezone(tz).date()
                values = dict(rng.choice(samples[form.id]))
                for item in form.header:
                    if item.kind == "date":
                        values[item.id] = day.isoformat()
                digest = content_digest(form.id, values)
                corrected = rng.random() < 0.02
                submissions.append({
                    "id": sub_id, "uid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "form_id": form.id,
                    "form_version_id": version_ids[form.id], "user_id": user["id"], "team": user["team"],
                    "record_date": record_date(form, values, day), "summary": summary(form, values),
                    "status": "deleted" if rng.random() < 0.01 else "submitted",
                    "revision_count": 2 if corrected else 1, "content_digest": digest,
                    "faults": count_faults(form, values), "created_at": created, "updated_at": created})
                for number in (1, 2) if corrected else (1,):
                    rev_id += 1
                    revisions.append({"id": rev_id, "submission_id": sub_id, "number": number, "values": values,
                                      "digest": digest, "author_id": user["id"], "created_at": created,
                                      "reason": "" if number == 1 else "更正"})
            connection.execute(insert(Submission), submissions)
            connection.execute(insert(Revision), revisions)
            connection.commit()
            print(f"  seeded {sub_id:,} / {rows:,}", end="\r", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    engine.dispose()


def seeded_database(rows: int) -> Path:
    from formserver.db.migrate import head

    path = CACHE / f"formserver-{rows}-{head()}-v{SEED_VERSION}.sqlite3"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.unlink(missing_ok=True)
        print(f"seeding {rows:,} submissions into {path} (once) …", file=sys.stderr)
        start = time.perf_counter()
        seed(partial, rows)
        for suffix in ("-wal", "-shm"):
            Path(str(partial) + suffix).unlink(missing_ok=True)
        partial.rename(path)
        print(f"seeded in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return path


def login(base_url: str, username: str):
    import requests

    session = requests.Session()
    page = session.get(f"{base_url}/login", timeout=30).text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    answer = session.post(f"{base_url}/login", data={"username": username, "password": PASSWORD,
                                                      "csrf_token": csrf}, timeout=30, allow_redirects=False)
    assert answer.status_code in (302, 303), (answer.status_code, answer.text[:300])
    return session


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def export(session, server: Gunicorn, query: str) -> dict[str, float]:
    """Stream one CSV export; its rows, bytes, seconds and the workers' memory before and at peak."""
    workers = server.workers()
    before = {pid: rss_kb(pid) for pid in workers}
    peak = dict(before)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for pid in workers:
                peak[pid] = max(peak[pid], rss_kb(pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    lines = size = 0
    with session.get(f"{server.url}/records/export.csv?{query}", stream=True, timeout=600) as answer:
        assert answer.status_code == 200, answer.status_code
        for chunk in answer.iter_content(1 << 16):
            size += len(chunk)
            lines += chunk.count(b"\n")
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    grown = max(peak[pid] - before[pid] for pid in workers)
    return {"rows": lines - 1, "bytes": size, "seconds": seconds, "rss_before_mb": max(before.values()) / 1024,
            "rss_peak_mb": max(peak.values()) / 1024, "rss_growth_mb": grown / 1024}


def bench_reads(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    cached = seeded_database(args.rows)
    db_path = tmp / "reads.sqlite3"
    shutil.copyfile(cached, db_path)  # the cache stays as seeded (logins and exports write audit events)
    url = f"sqlite:///{db_path}"
    flask_cli(url, "db-upgrade")
    gunicorn = {"workers": args.workers, "worker_class": args.worker_class, "threads": args.gthreads}
    filters = {"no filter": "", "form=patrol": "form=patrol", "one month": "from=2026-03-01&to=2026-03-31",
               "has faults": "status=faults", "one person": "person=staff-desk-03"}
    results: dict[str, Any] = {"list": {}, "export": {}}
    with Gunicorn(url, log=tmp / "reads.log", **gunicorn) as server:
        time.sleep(0.5 + server.boot_seconds)
        for username in ("sup-desk", "manager"):
            session = login(server.url, username)
            for label, query in filters.items():
                times = []
                for i in range(args.list_requests + 3):
                    start = time.perf_counter()
                    answer = session.get(f"{server.url}/records?{query}", timeout=60)
                    elapsed = time.perf_counter() - start
                    assert answer.status_code == 200, (answer.status_code, label)
                    if i >= 3:  # the first few warm the page cache and the worker
                        times.append(elapsed * 1000)
                results["list"][(username, label)] = times
        session = login(server.url, "manager")
        results["export"]["~10 %"] = export(session, server, "from=2026-09-01")
        results["export"]["all"] = export(session, server, "")
    import sqlite3

    with sqlite3.connect(db_path) as connection:
        results["expected"] = {
            "all": connection.execute("SELECT count(*) FROM submissions WHERE status = 'submitted'").fetchone()[0],
            "~10 %": connection.execute("SELECT count(*) FROM submissions WHERE status = 'submitted' "
                                        "AND record_date >= '2026-09-01'").fetchone()[0]}
    connection.close()
    return results


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1]


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--duration", default="10s", help="wrk duration per app")
    parser.add_argument("--resend", type=int, default=10, help="every Nth request re-sends an id (0: never)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread", choices=("gthread", "sync"))
    parser.add_argument("--gthreads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--reuse-port", action="store_true", help="gunicorn --reuse-port (both apps)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="submissions in the read benchmark")
    parser.add_argument("--list-requests", type=int, default=50)
    parser.add_argument("--skip-reads", action="store_true")
    parser.add_argument("--skip-writes", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None and not args.skip_writes:
        parser.error("wrk is not installed (Debian package wrk)")

    settings = (f"gunicorn -w {args.workers} -k {args.worker_class}"
                + (f" --threads {args.gthreads}" if args.worker_class == "gthread" else "")
                + (" --reuse-port" if args.reuse_port else ""))
    with tempfile.TemporaryDirectory(prefix="bench-server-") as folder:
        tmp = Path(folder)
        if not args.skip_writes:
            w = bench_writes(args, tmp)
            print(f"\nWrites: wrk -t{args.threads} -c{args.connections} -d{args.duration} --latency, {settings}, "
                  f"SQLite (WAL, synchronous=FULL); every {args.resend}th request re-sends an id\n")
            print(f"{'app':10} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'201':>7} {'other':>6} {'errors':>6} "
                  f"{'acked ids':>9} {'lost':>5} {'dup':>4} {'unacked':>7}")
            for name, r in w.items():
                other = sum(n for s, n in r["statuses"].items() if s != 201)
                print(f"{name:10} {r['rps']:8.0f} {r['p50_us'] / 1000:7.1f} {r['p99_us'] / 1000:7.1f} "
                      f"{r['statuses'].get(201, 0):7d} {other:6d} {r['errors']:6d} {len(r['acked']):9d} "
                      f"{r['lost']:5d} {r['duplicated']:4d} {r['unacked_stored']:7d}")
            ours, base = w["ours"], w["baseline"]
            ratio = ours["rps"] / base["rps"]
            print(f"\nours / baseline: {ratio:.0%} (target ≥ {TARGET_RATIO:.0%}): {verdict(ratio >= TARGET_RATIO)}")
            print(f"ours p99 {ours['p99_us'] / 1000:.1f} ms (target ≤ {TARGET_P99_MS:.0f} ms): "
                  f"{verdict(ours['p99_us'] / 1000 <= TARGET_P99_MS)}")
            clean = all(r["lost"] == 0 and r["duplicated"] == 0 for r in w.values())
            print(f"every acknowledged id stored exactly once: {verdict(clean)}")
        if not args.skip_reads:
            r = bench_reads(args, tmp)
            print(f"\nReads: {args.rows:,} stored submissions, {settings}, {args.list_requests} requests each\n")
            print(f"{'records list':32} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
            worst = 0.0
            for (username, label), times in r["list"].items():
                worst = max(worst, p95(times))
                print(f"{username + ', ' + label:32} {statistics.median(times):7.1f} {p95(times):7.1f} "
                      f"{max(times):7.1f}")
            print(f"\nworst p95 {worst:.1f} ms (target ≤ {TARGET_LIST_P95_MS:.0f} ms): "
                  f"{verdict(worst <= TARGET_LIST_P95_MS)}")
            print(f"\n{'CSV export':12} {'rows':>9} {'expected':>9} {'MB':>7} {'s':>6} {'rows/s':>8} "
                  f"{'RSS before':>10} {'RSS peak':>9} {'growth':>7}")
            for label, e in r["export"].items():
                print(f"{label:12} {e['rows']:9d} {r['expected'][label]:9d} {e['bytes'] / 1e6:7.1f} "
                      f"{e['seconds']:6.1f} {e['rows'] / e['seconds']:8.0f} {e['rss_before_mb']:8.0f}MB "
                      f"{e['rss_peak_mb']:7.0f}MB {e['rss_growth_mb']:5.0f}MB")
            full, part = r["export"]["all"], r["export"]["~10 %"]
            speed = full["rows"] / full["seconds"]
            print(f"\nfull export {speed:,.0f} rows/s (target ≥ {TARGET_EXPORT_ROWS_S:,}): "
                  f"{verdict(speed >= TARGET_EXPORT_ROWS_S)}")
            flat = full["rss_growth_mb"] <= part["rss_growth_mb"] + 20
            print(f"memory flat (growth for all ≤ growth for ~10 % + 20 MB): {verdict(flat)}")
            complete = all(r["export"][k]["rows"] == r["expected"][k] for k in r["export"])
            print(f"exports complete (rows == stored): {verdict(complete)}")
    return 0  # a benchmark reports its figures; the verdict is printed above, never an exit status


if __name__ == "__main__":
    sys.exit(main())
