"""`python -m bench.chaos` (`make chaos`): break a dependency under load, lose nothing.

Everything runs on private servers: a PostgreSQL initialized in `.data/chaos/pg`
(bench.postgres, provisioned like production by `manage.py setup_database` from a superuser
`DATABASE_URL`) and a private redis-server (bench.server.PrivateRedis), so the shared
embedded servers are never restarted. On them: gunicorn with the production settings, a
Celery worker (`bench.chaos_celery`: the production app with a 10 s visibility timeout) and
Celery beat with the production schedule. Each scenario has its own organization and
project, and the load generator sends 100-event batches with retries on, recording every
request's outcome (bench.reliability holds that ledger against the stored rows):

- `lost-response`: a request whose client times out after sending it; its retry must be
  answered with every event as a duplicate, and no row stored twice;
- `postgres-restart`: PostgreSQL stopped (`pg_ctl stop -m fast`) for a few seconds under load
  and started again: answers are 503 with `Retry-After`, never another 5xx, never a hang
  beyond the client's timeout; with retries every acknowledged event is stored once;
- `postgres-crash`: the same with `pg_ctl stop -m immediate` (no shutdown checkpoint: the
  server recovers from its WAL), so an acknowledged event must have been durable;
- `redis-stop`: Redis stopped under load and started again, empty: ingestion goes on (every
  answer a 202), and the sessions catch up without a manual step (beat's `sessions-sweep`);
- `pool-kill`: the worker's pool processes SIGKILLed while a fold of the project holds its
  lock: the main process requeues the task at once (`task_acks_late` +
  `task_reject_on_worker_lost`) and runs it again;
- `worker-kill`: the whole Celery worker SIGKILLed the same way: the tasks it held are
  delivered again to a new worker once the visibility timeout has passed;
  in both, the sessions converge to the same rows as a clean rebuild from the stored events.

Prints a pass/fail table per scenario, writes `.data/reliability/chaos.json` and its section
of docs/reliability-figures.md, exits 1 if any check failed. Every wait is bounded; every
process it started is stopped on the way out (Ctrl-C included).
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.postgres import PrivatePostgres
from bench.reliability import (
    BASE_DIR,
    Check,
    Option,
    accounting_line,
    check_lines,
    check_table,
    checks_json,
    command_line,
    interruptible,
    load_average,
    machine_line,
    parser,
    passed,
    status_counts_line,
    write_docs,
)
from bench.server import PrivateRedis

OPTIONS: tuple[Option, ...] = (
    ("duration", "BENCH_CHAOS_SECONDS", float, "30", "seconds of load in each scenario"),
    ("rate", "BENCH_CHAOS_RATE", float, "2000", "events/s of that load (100-event batches)"),
    ("clients", "BENCH_CHAOS_CLIENTS", int, "4", "concurrent clients of the load generator"),
    ("workers", "BENCH_WORKERS", int, "", "gunicorn workers (default: 2 x CPUs)"),
    ("timeout", "BENCH_CHAOS_TIMEOUT", float, "10", "client socket timeout: longer is a hang"),
    ("outage", "BENCH_CHAOS_OUTAGE", float, "5", "seconds PostgreSQL / Redis stay down"),
    ("converge", "BENCH_CHAOS_CONVERGE", float, "180", "max seconds for the sessions to converge"),
    ("visibility-timeout", "BENCH_VISIBILITY_TIMEOUT", float, "10", "the worker's, in seconds"),
    ("only", "BENCH_CHAOS_ONLY", str, "", "comma-separated scenarios to run (default: all)"),
    ("docs", "BENCH_DOCS", int, "1", "1: rewrite docs/reliability-figures.md, 0: leave it"),
)
FAULT_AT_S = 8.0  # seconds into the load when the fault is injected
BATCH = 100
DATABASE = "productgraph_chaos"


def say(line: str) -> None:
    """Progress on stdout."""
    print(line, flush=True)


@dataclass
class Outcome:
    """One scenario's checks and figures."""

    name: str
    title: str
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "name": self.name,
            "title": self.title,
            "passed": passed(self.checks),
            "checks": checks_json(self.checks),
            "figures": self.figures,
        }


def load_checks(summary: dict[str, Any], figures: dict[str, Any]) -> list[Check]:
    """What every loaded scenario must show: all acknowledged in the end, stored once."""
    outcomes = summary["outcomes"]
    unanswered = outcomes["lost"] + outcomes["refused"]
    return [
        Check(
            "every request acknowledged in the end (client retries)",
            unanswered == 0,
            f"{outcomes['acked']:,} acknowledged, {unanswered:,} not; "
            + status_counts_line(summary),
        ),
        Check(
            "every acknowledged event stored exactly once",
            bool(figures["exact"]),
            accounting_line(figures),
        ),
    ]


def outage_checks(summary: dict[str, Any], *, timeout: float) -> list[Check]:
    """A database outage: 503 + Retry-After, no other 5xx, no hang beyond the client timeout."""
    attempts = summary["attempts"]
    other_5xx = {
        status: count
        for status, count in attempts.items()
        if status.isdigit() and int(status) >= 500 and status != "503"
    }
    return [
        Check(
            "requests during the outage answered 503 with Retry-After",
            attempts.get("503", 0) > 0 and summary["unhinted_5xx"] == 0 and not other_5xx,
            f"{attempts.get('503', 0):,} answers 503, {summary['unhinted_5xx']:,} 5xx without "
            f"Retry-After, other 5xx: {other_5xx or 'none'}",
        ),
        Check(
            f"no request hung (client timeout {timeout:g} s)",
            summary["timeouts"] == 0 and summary["longest_attempt_s"] < timeout,
            f"{summary['timeouts']:,} timeouts; longest attempt "
            f"{summary['longest_attempt_s']:.2f} s",
        ),
    ]


def sessions_check(name: str, converged: float | None, *, bound: float, since: str) -> Check:
    """The sessions caught up (no stale session) within `bound` s of `since`."""
    return Check(
        name,
        converged is not None,
        f"caught up {converged:.0f} s after {since}"
        if converged is not None
        else f"still behind {bound:.0f} s after {since}",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios on private servers; return 0 when every check passed."""
    argv = sys.argv[1:] if argv is None else argv
    args = parser("python -m bench.chaos", __doc__.split("\n")[0], OPTIONS).parse_args(argv)
    from bench.__main__ import cpus

    args.workers = args.workers or 2 * cpus()
    interruptible()
    command = command_line(argv, make="chaos", options=OPTIONS)
    data_dir = Path(os.environ.get("PRODUCTGRAPH_DATA_DIR") or BASE_DIR / ".data")
    postgres = PrivatePostgres(data_dir / "chaos" / "pg")
    redis_server = PrivateRedis()
    load_before = load_average()
    say(f"chaos: {command}")
    try:
        say(f"initializing a private PostgreSQL in {postgres.directory}")
        postgres.init()
        postgres.start()
        environment(postgres, redis_server, args)
        say("provisioning it like production: manage.py setup_database")
        setup = subprocess.run(
            [sys.executable, "manage.py", "setup_database", "--json"],
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if setup.returncode != 0:
            raise RuntimeError(f"setup_database failed: {setup.stdout}{setup.stderr}")
        import django

        django.setup()
        outcomes, facts = run_scenarios(args, postgres=postgres, redis_server=redis_server)
    except KeyboardInterrupt:
        say("interrupted: stopping every process started")
        return 130
    finally:
        redis_server.stop()
        if os.environ.get("BENCH_KEEP_DATABASE") == "1":
            postgres.stop()
        else:
            postgres.remove()
    from bench.run import git_revision, machine_info

    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "commit": git_revision(),
        "machine": machine_info(cpus=cpus(), postgres_version=facts["postgres_version"]),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "passed": all(passed(outcome.checks) for outcome in outcomes),
        "settings": {
            "rate_events_per_s": args.rate,
            "batch": BATCH,
            "clients": args.clients,
            "load_s": args.duration,
            "fault_at_s": FAULT_AT_S,
            "outage_s": args.outage,
            "client_timeout_s": args.timeout,
            "visibility_timeout_s": args.visibility_timeout,
            "gunicorn_workers": args.workers,
        },
        "scenarios": [outcome.as_json() for outcome in outcomes],
    }
    out_dir = data_dir / "reliability"
    report.dump(results, out_dir / "chaos.json")
    say("")
    for outcome in outcomes:
        say("\n".join(check_lines(outcome.checks, title=f"{outcome.name}: {outcome.title}")))
        say("")
    say(f"results: {out_dir / 'chaos.json'}")
    if args.docs:
        say(f"written: {write_docs('chaos', docs_lines(results))}")
    return 0 if results["passed"] else 1


def environment(postgres: PrivatePostgres, redis_server: PrivateRedis, args: Any) -> None:
    """Point this process (and what it starts) at the private servers, never the shared ones."""
    for name in ("DATABASE_ADMIN_URL", "DATABASE_OWNER_URL", "DJANGO_SETTINGS_MODULE"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "DATABASE_URL": postgres.url(DATABASE),  # a superuser: setup_database derives roles
            "REDIS_URL": redis_server.url,
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "BENCH_VISIBILITY_TIMEOUT": str(args.visibility_timeout),
        }
    )


SCENARIOS = (
    "lost-response",
    "postgres-restart",
    "postgres-crash",
    "redis-stop",
    "pool-kill",
    "worker-kill",
)


def run_scenarios(
    args: Any, *, postgres: PrivatePostgres, redis_server: PrivateRedis
) -> tuple[list[Outcome], dict[str, Any]]:
    """Start the stack once and run the chosen scenarios on it (Django set up)."""
    from django.conf import settings

    from bench import database
    from bench.run import _postgres_facts
    from bench.stack import Stack

    chosen = [name for name in SCENARIOS if not args.only or name in args.only.split(",")]
    tenants = {
        name: database.tenant_create(
            database=DATABASE,
            urls=settings.DATABASE_URLS,
            slug=f"chaos-{name}",
            public_id=f"proj_chaos_{name.replace('-', '_')}",
        )
        for name in chosen
    }
    first = next(iter(tenants.values()))
    postgres_version, _ = _postgres_facts(first)
    stack = Stack(
        tenant=first,
        out_dir=settings.PRODUCTGRAPH_DATA_DIR / "reliability" / "chaos",
        workers=args.workers,
        concurrency=2,
        redis=redis_server,
        celery_app="bench.chaos_celery",
        celery_loglevel="INFO",
        with_beat=True,
    )
    runners: dict[str, Callable[..., Outcome]] = {
        "lost-response": lost_response,
        "postgres-restart": postgres_restart,
        "postgres-crash": postgres_crash,
        "redis-stop": redis_stop,
        "pool-kill": pool_kill,
        "worker-kill": worker_kill,
    }
    outcomes = []
    try:
        say(
            f"starting gunicorn ({args.workers} workers, production settings), a Celery worker "
            f"(visibility timeout {args.visibility_timeout:g} s) and Celery beat"
        )
        stack.start()
        for name in chosen:
            say(f"scenario {name}")
            revive_worker(stack)  # a scenario starts with a live worker whatever came before
            try:
                outcome = runners[name](
                    stack=stack, tenant=tenants[name], args=args, postgres=postgres
                )
            except Exception as exc:  # one broken scenario is a failure, not the end of the run
                traceback.print_exc()
                outcome = Outcome(name, "did not run to its end")
                outcome.checks.append(
                    Check("scenario ran to its end", False, f"{type(exc).__name__}: {exc}")
                )
            for check in outcome.checks:
                say(f"  [{'PASS' if check.passed else 'FAIL'}] {check.name}: {check.measured}")
            outcomes.append(outcome)
    finally:
        stack.stop()
    return outcomes, {"postgres_version": postgres_version}


# The scenarios ------------------------------------------------------------------------------


def revive_worker(stack: Any) -> dict[str, Any] | None:
    """If the worker has exited, start a new one, as a supervisor would (docker compose's
    `restart: unless-stopped`); return how it ended (exit code, last critical line)."""
    process = stack.celery.process
    if process is None or process.poll() is None:
        return None
    log_path = stack.celery.log_path
    lines = log_path.read_text().splitlines() if log_path.exists() else []
    last = next((line for line in reversed(lines) if "CRITICAL" in line), "")
    say(f"  the Celery worker had exited ({process.returncode}): {last[:200]}; starting a new one")
    stack.start_worker()
    return {"exit_code": process.returncode, "critical": last, "log": str(log_path)}


def _request(stack: Any, tenant: Any, *, seed: int) -> tuple[bytes, str]:
    """One complete 100-event request with fresh event and session ids; and its token."""
    from bench.events import SESSION_TOKEN_BYTES, TOKEN_BYTES
    from bench.load import build_requests

    template = build_requests(
        host="127.0.0.1",
        port=stack.server.port,
        path="/v1/events",
        key=tenant.ingest_key,
        project=tenant.project_public_id,
        sizes=[BATCH],
        seed=seed,
    )[0]
    token = secrets.token_hex(10)  # 20 characters, as the load generator's
    data = template.replace(TOKEN_BYTES, token.encode()).replace(
        SESSION_TOKEN_BYTES, secrets.token_hex(9).encode()
    )
    return data, token


def lost_response(*, stack: Any, tenant: Any, args: Any, postgres: PrivatePostgres) -> Outcome:
    """Send a request, time out before the answer, close; then send it again."""
    from bench.load import Connection
    from bench.stack import stored_per_token

    outcome = Outcome("lost-response", "the client times out after the server committed")
    data, token = _request(stack, tenant, seed=11)
    with socket.create_connection(("127.0.0.1", stack.server.port), timeout=5) as sock:
        sock.sendall(data)
        sock.settimeout(0.001)  # the client gives up at once: the answer is never read
        try:
            timed_out = not sock.recv(1)
        except TimeoutError:
            timed_out = True
    deadline = time.monotonic() + 15
    first = 0
    while time.monotonic() < deadline:
        first = stored_per_token(tenant)[0].get(token, 0)
        if first == BATCH:
            break
        time.sleep(0.2)
    connection = Connection("127.0.0.1", stack.server.port, timeout=args.timeout)
    status, body = connection.request(data)
    connection.close()
    answer = json.loads(body) if status == 202 else {}
    per_token, rows, distinct = stored_per_token(tenant)
    outcome.figures = {
        "client_timed_out": timed_out,
        "stored_after_first": first,
        "retry_status": status,
        "retry_answer": answer,
        "rows": rows,
        "distinct": distinct,
    }
    outcome.checks = [
        Check(
            "the first request was committed though its answer was never read",
            timed_out and first == BATCH,
            f"client timed out: {timed_out}; {first} of {BATCH} events stored",
        ),
        Check(
            "the retry is answered 202 with every event a duplicate",
            status == 202 and answer.get("duplicates") == BATCH == answer.get("accepted"),
            f"HTTP {status}: " + (json.dumps(answer) if answer else repr(body[:200])),
        ),
        Check(
            "no second row",
            rows == distinct == BATCH and per_token.get(token) == BATCH,
            f"{rows} rows, {distinct} distinct event ids after the retry",
        ),
    ]
    return outcome


def _loaded(
    *,
    stack: Any,
    tenant: Any,
    args: Any,
    name: str,
    fault: Callable[[], dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], float]:
    """Run the load with retries, call `fault()` FAULT_AT_S s in; return the load's summary,
    the fault's figures, the accounting and when the fault ended (time.monotonic())."""
    from bench.reliability import Ledger, account
    from bench.stack import LoadRun, stored_per_token

    ledger = stack.out_dir / f"{name}-ledger.json"
    load = LoadRun(
        server=stack.server,
        tenant=tenant,
        ledger=ledger,
        options={
            "batch": BATCH,
            "clients": args.clients,
            "duration": args.duration,
            "warmup": 0,
            "rate": args.rate,
            "timeout": args.timeout,
        },
    )
    try:
        load.start()
        time.sleep(max(0.0, FAULT_AT_S - load.elapsed()))
        injected = fault()
        ended = time.monotonic()
        summary = load.wait()
    finally:
        load.stop()
    summary.pop("window_monotonic", None)
    per_token, rows, distinct = stored_per_token(tenant)
    figures = account(Ledger.read(ledger), per_token, rows=rows, distinct=distinct)
    return summary, injected, figures, ended


def _ready_status(stack: Any) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", stack.server.port, timeout=5)
    try:
        connection.request("GET", "/ready")
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def _load_figures(summary: dict[str, Any]) -> dict[str, Any]:
    keys = ("events_per_s", "latency_ms", "attempts", "retries", "timeouts", "outcomes")
    return {key: summary[key] for key in keys} | {
        "longest_attempt_s": summary["longest_attempt_s"],
        "unhinted_5xx": summary["unhinted_5xx"],
    }


def postgres_restart(
    *, stack: Any, tenant: Any, args: Any, postgres: PrivatePostgres, mode: str = "fast"
) -> Outcome:
    """Stop PostgreSQL under load for `args.outage` s (`pg_ctl stop -m <mode>`), start it."""
    from bench.stack import wait_for_sessions

    outcome = (
        Outcome("postgres-restart", "PostgreSQL stopped (-m fast) and started again under load")
        if mode == "fast"
        else Outcome(
            "postgres-crash", "PostgreSQL killed (-m immediate: crash recovery) under load"
        )
    )

    def fault() -> dict[str, Any]:
        started = time.monotonic()
        postgres.stop(mode=mode)
        down = time.monotonic()
        time.sleep(args.outage / 2)
        ready = _ready_status(stack)
        time.sleep(args.outage / 2)
        postgres.start()
        return {
            "stop_s": round(down - started, 2),
            "down_s": round(time.monotonic() - down, 2),
            "ready_status_while_down": ready,
        }

    summary, injected, figures, ended = _loaded(
        stack=stack, tenant=tenant, args=args, name=outcome.name, fault=fault
    )
    converged = wait_for_sessions(tenant, bound=args.converge)
    since_fault = round(time.monotonic() - ended, 1)
    outcome.figures = {
        "fault": injected,
        "load": _load_figures(summary),
        "accounting": figures,
        "sessions_caught_up_s": converged,
        "checked_s_after_restart": since_fault,
    }
    outcome.checks = [
        *outage_checks(summary, timeout=args.timeout),
        Check(
            "GET /ready answered 503 while PostgreSQL was down",
            injected["ready_status_while_down"] == 503,
            f"HTTP {injected['ready_status_while_down']}",
        ),
        *load_checks(summary, figures),
        sessions_check(
            "sessions caught up after the restart",
            converged,
            bound=args.converge,
            since="the load ended",
        ),
    ]
    return outcome


def postgres_crash(*, stack: Any, tenant: Any, args: Any, postgres: PrivatePostgres) -> Outcome:
    """Kill PostgreSQL under load (`pg_ctl stop -m immediate`); it recovers from its WAL."""
    return postgres_restart(
        stack=stack, tenant=tenant, args=args, postgres=postgres, mode="immediate"
    )


def _beat_sweeps(stack: Any) -> int:
    try:
        return stack.beat.log_path.read_text().count("Sending due task sessions-sweep")
    except OSError:
        return 0


def redis_stop(*, stack: Any, tenant: Any, args: Any, postgres: PrivatePostgres) -> Outcome:
    """Stop Redis under load for `args.outage` s; start it again, empty (no persistence)."""
    from bench.stack import stale_sessions, wait_for_sessions

    outcome = Outcome("redis-stop", "Redis stopped under load, started again empty")
    sweeps_before = _beat_sweeps(stack)

    def fault() -> dict[str, Any]:
        stack.redis.halt()
        down = time.monotonic()
        time.sleep(args.outage)
        stack.redis.start()
        return {"down_s": round(time.monotonic() - down, 2)}

    summary, injected, figures, ended = _loaded(
        stack=stack, tenant=tenant, args=args, name=outcome.name, fault=fault
    )
    died = revive_worker(stack)
    stale_at_end = stale_sessions(tenant)
    converged = wait_for_sessions(tenant, bound=args.converge)
    since_return = round(time.monotonic() - ended, 1)
    sweeps = _beat_sweeps(stack) - sweeps_before
    non_202 = {status: count for status, count in summary["attempts"].items() if status != "202"}
    outcome.figures = {
        "fault": injected,
        "load": _load_figures(summary),
        "accounting": figures,
        "stale_sessions_when_load_ended": stale_at_end,
        "sessions_caught_up_s": converged,
        "seconds_since_redis_returned": since_return,
        "beat_sweeps_sent": sweeps,
        "worker_exit": died,
    }
    latency = summary["latency_ms"]
    outcome.checks = [
        Check(
            "ingestion went on without Redis: every attempt answered 202",
            not non_202,
            f"other answers: {non_202 or 'none'}; latency p99 {latency['p99']:.0f} ms, "
            f"max {latency['max']:.0f} ms",
        ),
        *load_checks(summary, figures),
        Check(
            "the Celery worker survived the outage",
            died is None,
            "it kept running"
            if died is None
            else f"it exited ({died['exit_code']}): {died['critical'].split('] ', 1)[-1][:160]}"
            " — a new one was started, as a supervisor would",
        ),
        sessions_check(
            "sessions caught up with no manual step (beat's sessions-sweep, every 60 s)",
            converged,
            bound=args.converge,
            since="the load ended",
        ),
    ]
    outcome.figures["note"] = (
        f"{stale_at_end} sessions were stale when the load ended; beat sent "
        f"{sweeps} sessions-sweep fan-out(s) until they had caught up"
    )
    return outcome


# sessions.services' advisory lock of a fold: (this + the shard, the project id)
_LOCK_NAMESPACE = 0x5E55
FOLD_TASK = "sessions.fold_touched_sessions"  # sessions.fold_queue.FOLD_TASK


def _fold_lock_held(admin_url: str, project_id: int) -> bool:
    """Whether a fold of one of the project's shards holds its advisory lock right now."""
    import psycopg

    from sessions.fold_queue import FOLD_SHARDS

    with psycopg.connect(admin_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid >= %s AND classid < %s AND objid = %s",
            [_LOCK_NAMESPACE, _LOCK_NAMESPACE + FOLD_SHARDS, project_id],
        ).fetchone()
    return bool(row and row[0])


def _unacked_tasks(redis_url: str) -> list[str]:
    """The ids of the tasks held by a worker (kombu's `unacked` hash)."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        held = client.hgetall("unacked")
    finally:
        client.close()
    ids = []
    for payload in held.values():
        message = json.loads(payload)[0]
        ids.append(str(message["headers"]["id"]))
    return ids


def _succeeded(log_path: Path, task_ids: list[str]) -> dict[str, float]:
    """When (epoch seconds) each of these tasks succeeded, by the worker's INFO log."""
    found: dict[str, float] = {}
    lines = log_path.read_text().splitlines() if log_path.exists() else []
    for line in lines:
        for task in task_ids:
            if f"[{task}] succeeded" in line:
                stamp = line[1 : line.index(":", 20)]  # "[2026-11-24 03:04:27,227: INFO/..."
                moment = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").astimezone()
                found[task] = moment.timestamp()
    return found


def _received_folds(log_path: Path, since: int = 0) -> list[str]:
    """The ids of the session folds the worker's INFO log says it received, in order, in
    the log from byte `since` on (a scenario's own: an earlier scenario that restarted Redis
    empty lost the tasks it had received, and the sweep caught up for them)."""
    text = log_path.read_bytes()[since:].decode(errors="replace") if log_path.exists() else ""
    lines = text.splitlines()
    return [
        line.split("[")[-1].split("]")[0]
        for line in lines
        if line.endswith("] received") and f"Task {FOLD_TASK}[" in line
    ]


def _kill_whole_worker(stack: Any) -> tuple[list[str], Path]:
    """SIGKILL the worker's process group; start a new worker. The tasks it held stay in
    kombu's `unacked` hash until the visibility timeout: return their ids, and the new log."""
    process = stack.celery.process
    if process is None:
        raise RuntimeError("no worker to kill")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    held = _unacked_tasks(stack.redis.url)
    time.sleep(1)
    return held, stack.start_worker().log_path


def _kill_pool(stack: Any, since: int) -> tuple[list[str], Path]:
    """SIGKILL the worker's pool processes (the main process lives on and replaces them):
    return the ids of the tasks received (in the log from byte `since`) and not finished
    then, and the (same) log."""
    import psutil

    process = stack.celery.process
    if process is None:
        raise RuntimeError("no worker to kill")
    for child in psutil.Process(process.pid).children():
        child.send_signal(signal.SIGKILL)
    log_path = stack.celery.log_path
    time.sleep(0.2)  # the main process logs what it had running
    received = _received_folds(log_path, since)
    finished = _succeeded(log_path, received)
    # Once each: a task received twice (requeued earlier) was counted twice and its one
    # success never matched the count (pool-kill FAILed with "4 of 5", 4 distinct ids).
    return list(dict.fromkeys(task for task in received if task not in finished)), log_path


def worker_kill(
    *, stack: Any, tenant: Any, args: Any, postgres: PrivatePostgres, whole: bool = True
) -> Outcome:
    """SIGKILL the worker (or only its pool) while a fold of the project holds its lock."""
    from django.conf import settings

    from bench.stack import sessions_against_rebuild, stale_sessions, wait_for_sessions

    outcome = (
        Outcome("worker-kill", "the whole Celery worker SIGKILLed mid-fold, a new one started")
        if whole
        else Outcome("pool-kill", "the Celery worker's pool processes SIGKILLed mid-fold")
    )
    admin_url = settings.DATABASE_URLS.admin or postgres.url(DATABASE)
    worker_log = stack.celery.log_path
    log_start = worker_log.stat().st_size if worker_log.exists() else 0

    def fault() -> dict[str, Any]:
        deadline = time.monotonic() + args.duration - FAULT_AT_S - 2
        mid_fold = False
        while time.monotonic() < deadline and not mid_fold:
            mid_fold = _fold_lock_held(admin_url, tenant.project_id)
            if not mid_fold:
                time.sleep(0.01)
        killed_at = time.time()
        held, log_path = _kill_whole_worker(stack) if whole else _kill_pool(stack, log_start)
        return {
            "mid_fold": mid_fold,
            "held_task_ids": held,
            "killed_at": killed_at,
            "worker_log": str(log_path),
        }

    summary, injected, figures, _ = _loaded(
        stack=stack, tenant=tenant, args=args, name=outcome.name, fault=fault
    )
    stale_at_end = stale_sessions(tenant)
    sweeps_before = _beat_sweeps(stack)
    held = injected["held_task_ids"]
    log_path = Path(injected["worker_log"])
    deadline = time.monotonic() + args.visibility_timeout + 60
    rerun: dict[str, float] = {}
    while time.monotonic() < deadline:
        rerun = _succeeded(log_path, held)
        if len(rerun) == len(held):
            break
        time.sleep(1)
    killed_at = injected.pop("killed_at")
    redelivered_after = round(max(rerun.values(), default=killed_at) - killed_at, 1)
    converged = wait_for_sessions(tenant, bound=args.converge)
    sweeps = _beat_sweeps(stack) - sweeps_before
    rebuild = sessions_against_rebuild(tenant)
    survived = whole or (stack.celery.process is not None and stack.celery.process.poll() is None)
    outcome.figures = {
        "note": f"{stale_at_end} sessions were stale when the load ended; beat sent {sweeps} "
        "sessions-sweep fan-out(s) until they had caught up",
        "stale_sessions_when_load_ended": stale_at_end,
        "fault": injected,
        "load": _load_figures(summary),
        "accounting": figures,
        "redelivered": sorted(rerun),
        "held_task_ids": held,
        "redelivered_last_s_after_kill": redelivered_after,
        "sessions_caught_up_s": converged,
        "rebuild": rebuild,
        "beat_sweeps_sent": sweeps,
    }
    how = (
        f"on the new worker (visibility timeout {args.visibility_timeout:g} s)"
        if whole
        else "on the same worker (acks_late + reject_on_worker_lost: requeued at once)"
    )
    outcome.checks = [
        Check(
            "killed while a fold of the project held its advisory lock",
            bool(injected["mid_fold"]),
            f"fold in progress at the kill: {injected['mid_fold']}",
        ),
        Check(
            "the tasks the killed processes held ran again",
            bool(held) and len(rerun) == len(held) and survived,
            f"{len(rerun)} of {len(held)} held task(s) succeeded {how}, the last "
            f"{redelivered_after:.0f} s after the kill",
        ),
        *load_checks(summary, figures),
        sessions_check(
            "sessions converged", converged, bound=args.converge, since="the load ended"
        ),
        Check(
            "session rows equal a clean rebuild from the stored events",
            bool(rebuild["equal"]),
            f"{rebuild['rows']:,} rows, {rebuild['sessions']:,} rebuilt, "
            f"{rebuild['differing']} differing {rebuild['examples'] or ''}".rstrip(),
        ),
    ]
    return outcome


def pool_kill(*, stack: Any, tenant: Any, args: Any, postgres: PrivatePostgres) -> Outcome:
    """SIGKILL only the worker's pool processes while a fold holds the project's lock."""
    return worker_kill(stack=stack, tenant=tenant, args=args, postgres=postgres, whole=False)


# The page -----------------------------------------------------------------------------------


def docs_lines(results: dict[str, Any]) -> list[str]:
    """The chaos section of docs/reliability-figures.md."""
    setting = results["settings"]
    lines = [
        "## Chaos: `make chaos`",
        "",
        f"**{'PASS' if results['passed'] else 'FAIL'}.** Private PostgreSQL and Redis; "
        f"gunicorn ({setting['gunicorn_workers']} workers, production settings), a Celery "
        f"worker (visibility timeout {setting['visibility_timeout_s']:g} s) and Celery beat. "
        f"Under each load: {setting['batch']}-event batches from {setting['clients']} clients "
        f"paced at {setting['rate_events_per_s']:,.0f} events/s for {setting['load_s']:.0f} s, "
        f"the fault {setting['fault_at_s']:.0f} s in, outages of {setting['outage_s']:g} s, "
        f"client timeout {setting['client_timeout_s']:g} s.",
        "",
        machine_line(results),
        "",
    ]
    for scenario in results["scenarios"]:
        checks = [Check(**check) for check in scenario["checks"]]
        lines += [
            f"### `{scenario['name']}`: {scenario['title']}",
            "",
            *check_table(checks),
            "",
        ]
        note = scenario["figures"].get("note")
        if note:
            lines += [f"{note[0].upper()}{note[1:]}.", ""]
    return lines


if __name__ == "__main__":
    sys.exit(main())
