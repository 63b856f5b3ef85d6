"""`python -m bench.chaos` (`make chaos`): break a dependency under load, lose nothing. The
scenarios are described in docs/reliability.md; each prints its checks, and the run writes
`.data/reliability/chaos.json` and its section of docs/reliability-figures.md (exit 1 if a
check failed). Every wait is bounded; every process started is stopped on the way out."""

from __future__ import annotations

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
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis
from django.conf import settings  # read once the environment points at the private servers

from bench import options, reliability, report
from bench.events import SESSION_TOKEN_BYTES, TOKEN_BYTES
from bench.load import Connection, build_requests
from bench.reliability import TOKEN_LENGTH, Check, Ledger, account, passed
from bench.report import say
from bench.server import BASE_DIR, LoadRun, PrivatePostgres, PrivateRedis, Stack, status_of

FAULT_AT_S = 8.0  # seconds into the load when the fault is injected
BATCH = 100
DATABASE = "productgraph_chaos"
TITLES = {
    "lost-response": "the client times out after the server committed",
    "postgres-restart": "PostgreSQL stopped (-m fast) and started again under load",
    "postgres-crash": "PostgreSQL killed (-m immediate: crash recovery) under load",
    "redis-stop": "Redis stopped under load, started again empty",
    "pool-kill": "the Celery worker's pool processes SIGKILLed mid-fold",
    "worker-kill": "the whole Celery worker SIGKILLed mid-fold, a new one started",
}
SCENARIOS = tuple(TITLES)
FOLD_TASK = "sessions.fold_touched_sessions"  # the fold's Celery task
# A fold holds a transaction-level advisory lock keyed (namespace + shard, project id): the
# only two-key advisory lock the app takes (sessions.services).
_FOLD_LOCKS = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
               "objsubid = 2 AND classid >= 24149 AND objid = %s")  # fmt: skip


@dataclass
class Outcome:
    """One scenario's checks and figures."""

    name: str
    title: str
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        checks = reliability.checks_json(self.checks)
        return {"name": self.name, "title": self.title, "passed": passed(self.checks),
                "checks": checks, "figures": self.figures}  # fmt: skip


def load_checks(summary: dict[str, Any], figures: dict[str, Any]) -> list[Check]:
    """What every loaded scenario must show: all acknowledged in the end, stored once."""
    return [
        reliability.acked_check("every request acknowledged in the end (client retries)", summary),
        reliability.stored_check("every acknowledged event stored exactly once", figures),
    ]


def outage_checks(summary: dict[str, Any], *, timeout: float) -> list[Check]:
    """A database outage: 503 + Retry-After, no other 5xx, no hang beyond the client timeout."""
    attempts = summary["attempts"]
    other_5xx = {status: count for status, count in attempts.items()
                 if status.isdigit() and int(status) >= 500 and status != "503"}  # fmt: skip
    return [
        Check("requests during the outage answered 503 with Retry-After",
              attempts.get("503", 0) > 0 and summary["unhinted_5xx"] == 0 and not other_5xx,
              f"{attempts.get('503', 0):,} answers 503, {summary['unhinted_5xx']:,} 5xx without "
              f"Retry-After, other 5xx: {other_5xx or 'none'}"),
        Check(f"no request hung (client timeout {timeout:g} s)",
              summary["timeouts"] == 0 and summary["longest_attempt_s"] < timeout,
              f"{summary['timeouts']:,} timeouts; longest attempt "
              f"{summary['longest_attempt_s']:.2f} s"),
    ]  # fmt: skip


def sessions_check(name: str, converged: float | None, bound: float) -> Check:
    """The sessions caught up (no stale session) within `bound` s of the load's end."""
    measured = (f"caught up {converged:.0f} s after the load ended" if converged is not None
                else f"still behind {bound:.0f} s after the load ended")  # fmt: skip
    return Check(name, converged is not None, measured)


def _succeeded(log_path: Path, task_ids: list[str]) -> dict[str, float]:
    """When (epoch seconds) each of these tasks succeeded, by the worker's INFO log."""
    found: dict[str, float] = {}
    for line in log_path.read_text().splitlines() if log_path.exists() else []:
        for task in task_ids:
            if f"[{task}] succeeded" in line:
                stamp = line[1 : line.index(":", 20)]  # "[2026-11-24 03:04:27,227: INFO/..."
                when = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
                found[task] = when.astimezone().timestamp()
    return found


def _received_folds(log_path: Path, since: int = 0) -> list[str]:
    """The ids of the folds the worker's INFO log says it received, in order, from byte
    `since` on (a scenario's own: an earlier one that restarted Redis lost its tasks)."""
    text = log_path.read_bytes()[since:].decode(errors="replace") if log_path.exists() else ""
    return [line.split("[")[-1].split("]")[0] for line in text.splitlines()
            if line.endswith("] received") and f"Task {FOLD_TASK}[" in line]  # fmt: skip


@dataclass
class Chaos:
    """The scenarios, on one stack (Django set up on the private servers)."""

    args: Any
    stack: Stack
    postgres: PrivatePostgres
    db: Any  # bench.database, imported once Django points at the private servers

    def beat_sweeps(self) -> int:
        """The sessions-sweep fan-outs beat has sent so far."""
        try:
            return self.stack.beat.log_path.read_text().count("Sending due task sessions-sweep")  # type: ignore[union-attr]
        except OSError:
            return 0

    def revive_worker(self) -> dict[str, Any] | None:
        """If the worker has exited, start a new one as a supervisor would (`restart:
        unless-stopped`); return how it ended (exit code, last critical line)."""
        worker = self.stack.celery
        if worker is None or worker.process is None or worker.process.poll() is None:
            return None
        lines = worker.log_path.read_text().splitlines() if worker.log_path.exists() else []
        last = next((line for line in reversed(lines) if "CRITICAL" in line), "")
        code = worker.process.returncode
        say(f"  the Celery worker had exited ({code}): {last[:200]}; starting a new one")
        self.stack.start_worker()
        return {"exit_code": code, "critical": last, "log": str(worker.log_path)}

    def loaded(
        self, tenant: Any, name: str, fault: Callable[[], dict[str, Any]]
    ) -> tuple[Any, ...]:
        """Run the load with retries, call `fault()` FAULT_AT_S s in; return the load's
        summary, the fault's figures, the accounting and when the fault ended."""
        ledger = self.stack.out_dir / f"{name}-ledger.json"
        load = {"batch": BATCH, "clients": self.args.clients, "duration": self.args.duration,
                "warmup": 0, "rate": self.args.rate, "timeout": self.args.timeout}  # fmt: skip
        run = LoadRun(self.stack.server.port, tenant, load, ledger)
        try:
            run.start()
            time.sleep(max(0.0, FAULT_AT_S - (time.monotonic() - run.started)))
            injected = fault()
            ended = time.monotonic()
            summary = run.wait()
        finally:
            run.stop()
        summary.pop("window_monotonic", None)
        per_token, rows, distinct = self.db.stored_per_token(tenant, TOKEN_LENGTH)
        figures = account(Ledger.read(ledger), per_token, rows=rows, distinct=distinct)
        return summary, injected, figures, ended

    def lost_response(self, tenant: Any, outcome: Outcome) -> None:
        """Send a request, time out before the answer, close; then send it again."""
        port, token = self.stack.server.port, secrets.token_hex(10)  # 20 characters
        key, project = tenant.ingest_key, tenant.project_public_id
        template = build_requests(port=port, key=key, project=project, sizes=[BATCH], seed=11)[0]
        data = template.replace(TOKEN_BYTES, token.encode())
        data = data.replace(SESSION_TOKEN_BYTES, secrets.token_hex(9).encode())
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(data)
            sock.settimeout(0.001)  # the client gives up at once: the answer is never read
            try:
                timed_out = not sock.recv(1)
            except TimeoutError:
                timed_out = True
        deadline, first = time.monotonic() + 15, 0
        while time.monotonic() < deadline and first != BATCH:
            first = self.db.stored_per_token(tenant, TOKEN_LENGTH)[0].get(token, 0)
            time.sleep(0 if first == BATCH else 0.2)
        connection = Connection("127.0.0.1", port, timeout=self.args.timeout)
        status, body = connection.request(data)
        connection.close()
        answer = json.loads(body) if status == 202 else {}
        per_token, rows, distinct = self.db.stored_per_token(tenant, TOKEN_LENGTH)
        outcome.figures = {"client_timed_out": timed_out, "stored_after_first": first,
                           "retry_status": status, "retry_answer": answer, "rows": rows,
                           "distinct": distinct}  # fmt: skip
        outcome.checks = [
            Check("the first request was committed though its answer was never read",
                  timed_out and first == BATCH,
                  f"client timed out: {timed_out}; {first} of {BATCH} events stored"),
            Check("the retry is answered 202 with every event a duplicate",
                  status == 202 and answer.get("duplicates") == BATCH == answer.get("accepted"),
                  f"HTTP {status}: " + (json.dumps(answer) if answer else repr(body[:200]))),
            Check("no second row", rows == distinct == BATCH and per_token.get(token) == BATCH,
                  f"{rows} rows, {distinct} distinct event ids after the retry"),
        ]  # fmt: skip

    def postgres_restart(self, tenant: Any, outcome: Outcome, mode: str = "fast") -> None:
        """Stop PostgreSQL under load for `outage` s (`pg_ctl stop -m <mode>`), start it."""

        def fault() -> dict[str, Any]:
            started = time.monotonic()
            self.postgres.stop(mode=mode)
            down = time.monotonic()
            time.sleep(self.args.outage / 2)
            ready = status_of(self.stack.server.port)
            time.sleep(self.args.outage / 2)
            self.postgres.start()
            return {"stop_s": round(down - started, 2), "down_s": round(time.monotonic() - down, 2),
                    "ready_status_while_down": ready}  # fmt: skip

        summary, injected, figures, ended = self.loaded(tenant, outcome.name, fault)
        converged = self.db.wait_for_sessions(tenant, bound=self.args.converge)
        outcome.figures = {
            "fault": injected, "load": _load_figures(summary), "accounting": figures,
            "sessions_caught_up_s": converged,
            "checked_s_after_restart": round(time.monotonic() - ended, 1),
        }  # fmt: skip
        outcome.checks = [
            *outage_checks(summary, timeout=self.args.timeout),
            Check("GET /ready answered 503 while PostgreSQL was down",
                  injected["ready_status_while_down"] == 503,
                  f"HTTP {injected['ready_status_while_down']}"),
            *load_checks(summary, figures),
            sessions_check("sessions caught up after the restart", converged, self.args.converge),
        ]  # fmt: skip

    def postgres_crash(self, tenant: Any, outcome: Outcome) -> None:
        """Kill PostgreSQL under load (`pg_ctl stop -m immediate`); it recovers from its WAL."""
        self.postgres_restart(tenant, outcome, mode="immediate")

    def redis_stop(self, tenant: Any, outcome: Outcome) -> None:
        """Stop Redis under load for `outage` s; start it again, empty (no persistence)."""
        sweeps_before = self.beat_sweeps()

        def fault() -> dict[str, Any]:
            self.stack.redis.halt()
            down = time.monotonic()
            time.sleep(self.args.outage)
            self.stack.redis.start()
            return {"down_s": round(time.monotonic() - down, 2)}

        summary, injected, figures, ended = self.loaded(tenant, outcome.name, fault)
        died = self.revive_worker()
        stale_at_end = self.db.stale_sessions(tenant)
        converged = self.db.wait_for_sessions(tenant, bound=self.args.converge)
        since_return = round(time.monotonic() - ended, 1)
        sweeps = self.beat_sweeps() - sweeps_before
        non_202 = {status: n for status, n in summary["attempts"].items() if status != "202"}
        outcome.figures = {
            "fault": injected, "load": _load_figures(summary), "accounting": figures,
            "stale_sessions_when_load_ended": stale_at_end, "sessions_caught_up_s": converged,
            "seconds_since_redis_returned": since_return, "beat_sweeps_sent": sweeps,
            "worker_exit": died, "note": _note(stale_at_end, sweeps),
        }  # fmt: skip
        latency = summary["latency_ms"]
        survived = "it kept running"
        if died is not None:
            critical = died["critical"].split("] ", 1)[-1][:160]
            survived = (f"it exited ({died['exit_code']}): {critical} — a new one was started, "
                        "as a supervisor would")  # fmt: skip
        outcome.checks = [
            Check("ingestion went on without Redis: every attempt answered 202", not non_202,
                  f"other answers: {non_202 or 'none'}; latency p99 {latency['p99']:.0f} ms, "
                  f"max {latency['max']:.0f} ms"),
            *load_checks(summary, figures),
            Check("the Celery worker survived the outage", died is None, survived),
            sessions_check("sessions caught up with no manual step (beat's sessions-sweep, every "
                           "60 s)", converged, self.args.converge),
        ]  # fmt: skip

    def kill(self, whole: bool, log_start: int) -> tuple[list[str], Path]:
        """SIGKILL the whole worker (its held tasks stay in kombu's `unacked` hash until the
        visibility timeout: their ids; a new worker is started) or only its pool (the main
        process lives on and requeues: the folds received and not finished); and the log."""
        worker = self.stack.celery
        if worker is None or worker.process is None:
            raise RuntimeError("no worker to kill")
        if whole:
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=10)
            client = redis.Redis.from_url(self.stack.redis.url, socket_timeout=5)
            try:
                held = [str(json.loads(payload)[0]["headers"]["id"])
                        for payload in client.hgetall("unacked").values()]  # fmt: skip
            finally:
                client.close()
            time.sleep(1)
            return held, self.stack.start_worker().log_path
        for child in psutil.Process(worker.process.pid).children():
            child.send_signal(signal.SIGKILL)
        time.sleep(0.2)  # the main process logs what it had running
        received = _received_folds(worker.log_path, log_start)
        finished = _succeeded(worker.log_path, received)
        # Once each: a task received twice (requeued earlier) has one success.
        return list(dict.fromkeys(t for t in received if t not in finished)), worker.log_path

    def worker_kill(self, tenant: Any, outcome: Outcome, whole: bool = True) -> None:
        """SIGKILL the worker (or only its pool) while a fold of the project holds its lock."""
        admin_url = settings.DATABASE_URLS.admin or self.postgres.url(DATABASE)
        log = self.stack.celery.log_path  # type: ignore[union-attr]
        log_start = log.stat().st_size if log.exists() else 0

        def fault() -> dict[str, Any]:
            deadline, mid_fold = time.monotonic() + self.args.duration - FAULT_AT_S - 2, False
            with psycopg.connect(admin_url, autocommit=True) as admin:
                while time.monotonic() < deadline and not mid_fold:
                    row = admin.execute(_FOLD_LOCKS, [tenant.project_id]).fetchone()
                    mid_fold = bool(row and row[0])
                    time.sleep(0 if mid_fold else 0.01)
            killed_at = time.time()
            held, log_path = self.kill(whole, log_start)
            return {"mid_fold": mid_fold, "held_task_ids": held, "killed_at": killed_at,
                    "worker_log": str(log_path)}  # fmt: skip

        summary, injected, figures, _ = self.loaded(tenant, outcome.name, fault)
        stale_at_end, sweeps_before = self.db.stale_sessions(tenant), self.beat_sweeps()
        held, log_path = injected["held_task_ids"], Path(injected["worker_log"])
        deadline, rerun = time.monotonic() + self.args.visibility_timeout + 60, dict[str, float]()
        while time.monotonic() < deadline and len(rerun := _succeeded(log_path, held)) < len(held):
            time.sleep(1)
        killed_at = injected.pop("killed_at")
        redelivered_after = round(max(rerun.values(), default=killed_at) - killed_at, 1)
        converged = self.db.wait_for_sessions(tenant, bound=self.args.converge)
        sweeps = self.beat_sweeps() - sweeps_before
        rebuild = self.db.sessions_against_rebuild(tenant)
        process = self.stack.celery.process if self.stack.celery else None
        survived = whole or (process is not None and process.poll() is None)
        outcome.figures = {
            "note": _note(stale_at_end, sweeps), "stale_sessions_when_load_ended": stale_at_end,
            "fault": injected,
            "load": _load_figures(summary), "accounting": figures, "redelivered": sorted(rerun),
            "held_task_ids": held, "redelivered_last_s_after_kill": redelivered_after,
            "sessions_caught_up_s": converged, "rebuild": rebuild, "beat_sweeps_sent": sweeps,
        }  # fmt: skip
        how = "on the same worker (acks_late + reject_on_worker_lost: requeued at once)"
        if whole:
            how = f"on the new worker (visibility timeout {self.args.visibility_timeout:g} s)"
        outcome.checks = [
            Check("killed while a fold of the project held its advisory lock",
                  bool(injected["mid_fold"]),
                  f"fold in progress at the kill: {injected['mid_fold']}"),
            Check("the tasks the killed processes held ran again",
                  bool(held) and len(rerun) == len(held) and survived,
                  f"{len(rerun)} of {len(held)} held task(s) succeeded {how}, the last "
                  f"{redelivered_after:.0f} s after the kill"),
            *load_checks(summary, figures),
            sessions_check("sessions converged", converged, self.args.converge),
            Check("session rows equal a clean rebuild from the stored events",
                  bool(rebuild["equal"]),
                  f"{rebuild['rows']:,} rows, {rebuild['sessions']:,} rebuilt, "
                  f"{rebuild['differing']} differing {rebuild['examples'] or ''}".rstrip()),
        ]  # fmt: skip

    def pool_kill(self, tenant: Any, outcome: Outcome) -> None:
        """SIGKILL only the worker's pool processes while a fold holds the project's lock."""
        self.worker_kill(tenant, outcome, whole=False)


def _note(stale: int, sweeps: int) -> str:
    return (f"{stale} sessions were stale when the load ended; beat sent {sweeps} sessions-sweep "
            "fan-out(s) until they had caught up")  # fmt: skip


def _load_figures(summary: dict[str, Any]) -> dict[str, Any]:
    keys = ("events_per_s", "latency_ms", "attempts", "retries", "timeouts", "outcomes",
            "longest_attempt_s", "unhinted_5xx")  # fmt: skip
    return {key: summary[key] for key in keys}


def run_scenarios(
    args: Any, postgres: PrivatePostgres, redis_server: PrivateRedis
) -> tuple[list[Outcome], str]:
    """Start the stack once and run the chosen scenarios on it; and the server's version."""
    from bench import database  # sets Django up, on the private servers now

    chosen = [name for name in SCENARIOS if not args.only or name in args.only.split(",")]
    urls = settings.DATABASE_URLS
    tenants = {name: database.tenant_create(DATABASE, urls, slug=f"chaos-{name}",
                                            public_id=f"proj_chaos_{name.replace('-', '_')}")
               for name in chosen}  # fmt: skip
    version = database.server_facts(next(iter(tenants.values())))[0]
    out_dir = database.results_dir().parent / "reliability" / "chaos"
    stack = Stack(urls, out_dir, args.workers, 2, redis=redis_server, with_beat=True,
                  celery_app="bench.chaos_celery", celery_loglevel="INFO")  # fmt: skip
    chaos, outcomes = Chaos(args, stack, postgres, database), []
    try:
        say(f"starting gunicorn ({args.workers} workers, production settings), a Celery worker "
            f"(visibility timeout {args.visibility_timeout:g} s) and Celery beat")  # fmt: skip
        stack.start()
        for name in chosen:
            say(f"scenario {name}")
            chaos.revive_worker()  # a scenario starts with a live worker whatever came before
            try:
                outcome = Outcome(name, TITLES[name])
                getattr(chaos, name.replace("-", "_"))(tenants[name], outcome)
            except Exception as exc:  # one broken scenario is a failure, not the end of the run
                traceback.print_exc()
                ran = Check("scenario ran to its end", False, f"{type(exc).__name__}: {exc}")
                outcome = Outcome(name, "did not run to its end", [ran])
            for check in outcome.checks:
                say(f"  [{'PASS' if check.passed else 'FAIL'}] {check.name}: {check.measured}")
            outcomes.append(outcome)
    finally:
        stack.stop()
    return outcomes, version


def docs_lines(results: dict[str, Any]) -> list[str]:
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
        reliability.machine_line(results),
        "",
    ]
    for scenario in results["scenarios"]:
        table = reliability.check_table([Check(**check) for check in scenario["checks"]])
        lines += [f"### `{scenario['name']}`: {scenario['title']}", "", *table, ""]
        if note := scenario["figures"].get("note"):
            lines += [f"{note[0].upper()}{note[1:]}.", ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios on private servers; return 0 when every check passed."""
    argv = sys.argv[1:] if argv is None else argv
    args = options.parse(options.CHAOS, argv, __doc__.split("\n")[0])
    args.workers = args.workers or 2 * report.cpus()
    reliability.interruptible()
    command = options.command_line(options.CHAOS, argv)
    data_dir = Path(os.environ.get("PRODUCTGRAPH_DATA_DIR") or BASE_DIR / ".data")
    postgres, redis_server = PrivatePostgres(data_dir / "chaos" / "pg"), PrivateRedis()
    load_before = report.load_average()
    say(f"chaos: {command}")
    try:
        say(f"initializing a private PostgreSQL in {postgres.directory}")
        postgres.init()
        postgres.start()
        # This process and what it starts use the private servers, never the shared ones.
        for name in ("DATABASE_ADMIN_URL", "DATABASE_OWNER_URL"):
            os.environ.pop(name, None)
        os.environ.update(
            DATABASE_URL=postgres.url(DATABASE),  # a superuser: setup_database derives roles
            REDIS_URL=redis_server.url, DJANGO_SETTINGS_MODULE="config.settings.local",
            SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            BENCH_VISIBILITY_TIMEOUT=str(args.visibility_timeout),
        )  # fmt: skip
        say("provisioning it like production: manage.py setup_database")
        setup = subprocess.run(
            [sys.executable, "manage.py", "setup_database", "--json"],
            cwd=BASE_DIR, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if setup.returncode != 0:
            raise RuntimeError(f"setup_database failed: {setup.stdout}{setup.stderr}")
        outcomes, version = run_scenarios(args, postgres, redis_server)
    except KeyboardInterrupt:
        say("interrupted: stopping every process started")
        return 130
    finally:
        redis_server.stop()
        if args.keep_database:
            postgres.stop()
        else:
            postgres.remove()
    results = {
        **report.header(command, version),
        "load_average_before": load_before, "load_average_after": report.load_average(),
        "passed": all(passed(outcome.checks) for outcome in outcomes),
        "settings": {
            "rate_events_per_s": args.rate, "batch": BATCH, "clients": args.clients,
            "load_s": args.duration, "fault_at_s": FAULT_AT_S, "outage_s": args.outage,
            "client_timeout_s": args.timeout, "visibility_timeout_s": args.visibility_timeout,
            "gunicorn_workers": args.workers,
        },
        "scenarios": [outcome.as_json() for outcome in outcomes],
    }  # fmt: skip
    out_dir = data_dir / "reliability"
    report.dump(results, out_dir / "chaos.json")
    for outcome in outcomes:
        table = "\n".join(reliability.check_table(outcome.checks))
        say(f"\n{outcome.name}: {outcome.title}\n{table}")
    say(f"\nresults: {out_dir / 'chaos.json'}")
    if args.docs:
        say(f"written: {reliability.write_docs('chaos', docs_lines(results), args.docs_dir)}")
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
