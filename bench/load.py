"""`python -m bench.load`: C clients (threads, one raw HTTP/1.1 connection each, pre-built
requests, no Django) POST batches for a fixed time: closed loop, or paced (`--rate`, latency
from each request's scheduled time). With `--retry`, a connection error, 5xx or 429 is sent
again, the same bytes, after its Retry-After; `--ledger` writes each request's outcome.
Prints one JSON summary; every loop is bounded."""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.doors import DOORS, Door
from bench.events import SESSION_TOKEN_BYTES, TOKEN_BYTES, make_batches

ACKED, LOST, REFUSED = "acked", "lost", "refused"
HOST = "127.0.0.1"
TEMPLATE_EVENTS = 4000  # events per client's templates: ~100 visits, sessions span requests
_HEAD_END = b"\r\n\r\n"


class ProtocolError(OSError):
    """The server's answer was not an HTTP/1.1 response we can read."""


class Connection:
    """One HTTP/1.1 client connection: send a prepared request, read the response."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._sock: socket.socket | None = None
        self.connects = 0
        self.headers: dict[str, str] = {}  # the last response's, names lowercased

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def request(self, data: bytes) -> tuple[int, bytes]:
        """Send a complete request; return (status, body). A kept-alive socket the server
        closed meanwhile is retried once on a new one; a fresh socket's failure is raised."""
        for attempt in range(2):
            reused = self._sock is not None
            if self._sock is None:
                self._sock = socket.create_connection((self.host, self.port), self.timeout)
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.connects += 1
            try:
                self._sock.sendall(data)
                return self._read(self._sock)
            except (ConnectionError, ProtocolError):
                self.close()
                if not reused or attempt:
                    raise
        raise ProtocolError("unreachable")

    def _read(self, sock: socket.socket) -> tuple[int, bytes]:
        buffer = b""
        while _HEAD_END not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise ProtocolError("connection closed before the response head")
            buffer += chunk
        head, _, body = buffer.partition(_HEAD_END)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ProtocolError(f"not an HTTP/1.x status line: {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(body) < length:
                chunk = sock.recv(max(65536, length - len(body)))
                if not chunk:
                    raise ProtocolError("connection closed inside the response body")
                body += chunk
        else:  # no length: the body ends with the connection
            while chunk := sock.recv(65536):
                body += chunk
            headers["connection"] = "close"
        if headers.get("connection") == "close" or parts[0] == "HTTP/1.0":
            self.close()
        self.headers = headers
        return int(parts[1]), body


@dataclass
class ClientResult:
    """What one client thread measured."""

    ends: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    accepted: list[int] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    rejected: int = 0
    transport_errors: int = 0
    first_error: str = ""
    connects: int = 0
    stored: int = 0  # new events of every answered batch, warm-up included
    # Every attempt, warm-up and retries included: status (or "error") -> count
    attempts: Counter[str] = field(default_factory=Counter)
    unhinted_5xx: int = 0  # 5xx answers without Retry-After
    timeouts: int = 0  # attempts that hit the socket timeout
    retries: int = 0
    longest_attempt: float = 0.0
    # (event-id token, outcome, events sent, indices the server rejected) per request
    ledger: list[tuple[str, str, int, list[int]]] = field(default_factory=list)


@dataclass(frozen=True)
class RetryPolicy:
    """Send a failed request again until `deadline` (perf_counter); wait as told, at most `cap`."""

    deadline: float
    cap: float = 10.0

    @staticmethod
    def retryable(status: int | None) -> bool:
        """A connection error (None), a 5xx or a 429 is worth another attempt."""
        return status is None or status >= 500 or status == 429

    def wait(self, attempt: int, retry_after: str | None) -> float:
        """Seconds before attempt `attempt` + 1: Retry-After if given, else 0.1, 0.2 ... 2 s."""
        try:
            hinted = float(retry_after) if retry_after is not None else None
        except ValueError:
            hinted = None
        wanted = hinted if hinted is not None else min(2.0, 0.1 * 2 ** (attempt - 1))
        return max(0.0, min(wanted, self.cap, self.deadline - time.perf_counter()))


def deliver(
    connection: Connection, data: bytes, *, retry: RetryPolicy | None, result: ClientResult
) -> tuple[tuple[int, bytes] | None, bool]:
    """Send `data` (again, with `retry`, while it fails); return the last answer and whether
    some attempt went unanswered (the server may have stored it). Counts every attempt."""
    lost = False
    attempt = 0
    while True:
        attempt += 1
        started = time.perf_counter()
        answer: tuple[int, bytes] | None
        try:
            answer = connection.request(data)
        except OSError as exc:
            answer, lost = None, True
            result.transport_errors += 1
            result.timeouts += isinstance(exc, TimeoutError)
            result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"
        result.longest_attempt = max(result.longest_attempt, time.perf_counter() - started)
        key = "error" if answer is None else str(answer[0])
        result.attempts[key] += 1
        hint = connection.headers.get("retry-after") if answer is not None else None
        if answer is not None and answer[0] >= 500 and hint is None:
            result.unhinted_5xx += 1
        status = answer[0] if answer is not None else None
        if retry is None or not retry.retryable(status) or time.perf_counter() >= retry.deadline:
            return answer, lost
        result.retries += 1
        time.sleep(retry.wait(attempt, hint))


def outcome(answer: tuple[int, bytes] | None, *, lost: bool, success: int = 202) -> str:
    """A request's outcome for the ledger: acked (the door's `success`), lost or refused."""
    if answer is not None and answer[0] == success:
        return ACKED
    return LOST if lost else REFUSED


@dataclass(frozen=True)
class Plan:
    """The shared schedule of one run (perf_counter times)."""

    start: float
    measure_from: float  # requests scheduled before this are warm-up
    end: float  # no request starts at or after this time
    interval: float  # seconds between one client's requests when paced; 0 = closed loop
    run_token: str


def build_requests(
    *, port: int, key: str, project: str, sizes: list[int], seed: int, door: Door = DOORS["events"]
) -> list[bytes]:
    """One client's complete requests, in order, tokens inside (see bench.events)."""
    requests = []
    for batch in make_batches(
        sizes=sizes, project_public_id=project, seed=seed, min_events=TEMPLATE_EVENTS
    ):
        body = door.encode(batch.events)
        head = (
            f"POST {door.path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Content-Type: {door.content_type}\r\nX-PG-API-Key: {key}\r\n"
            f"User-Agent: {batch.user_agent}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


def run_client(*, index: int, clients: int, requests: list[bytes], connection: Connection,
               plan: Plan, result: ClientResult, retry: RetryPolicy | None = None,
               door: Door = DOORS["events"]) -> None:  # fmt: skip
    """Send requests until the plan's end; record what happened from `measure_from` on."""
    # 8 + 3 hex digits; + 9 for a request = len(TOKEN), + 7 for a pass = len(SESSION_TOKEN)
    prefix = f"{plan.run_token}{index:03x}"
    sizes = [request.count(TOKEN_BYTES) for request in requests]
    sequence = 0
    next_at = plan.start + index * plan.interval / clients  # clients interleave evenly
    while True:
        now = time.perf_counter()
        if plan.interval:
            if next_at >= plan.end:
                break
            if now < next_at:
                time.sleep(next_at - now)
            scheduled = next_at
            next_at += plan.interval
        elif now >= plan.end:
            break
        passes, position = divmod(sequence, len(requests))
        token = f"{prefix}{sequence:09x}"
        data = (
            requests[position]
            .replace(TOKEN_BYTES, token.encode())
            .replace(SESSION_TOKEN_BYTES, f"{prefix}{passes:07x}".encode())
        )
        sequence += 1
        if not plan.interval:
            scheduled = time.perf_counter()
        reply, lost = deliver(connection, data, retry=retry, result=result)
        answered = reply is not None and reply[0] == door.success
        answer = door.read(reply[1], sizes[position]) if answered and reply else {}
        if retry is not None:
            rejected = sorted({error["index"] for error in answer.get("errors", [])})
            ending = outcome(reply, lost=lost, success=door.success)
            result.ledger.append((token, ending, sizes[position], rejected))
        if reply is None:
            time.sleep(0.05)  # a refused or reset connection must not spin
            continue
        status, body = reply
        finished = time.perf_counter()
        accepted = answer["accepted"] - answer["duplicates"] if answer else 0
        result.stored += accepted  # warm-up included: what the sessions must come to reflect
        if scheduled < plan.measure_from:
            continue
        result.statuses[str(status)] += 1
        if answer:
            result.duplicates += answer["duplicates"]
            result.rejected += answer["rejected"]
            if answer["rejected"] and not result.first_error:
                result.first_error = json.dumps(answer["errors"][:3])
        elif not result.first_error:
            result.first_error = f"HTTP {status}: {body[:300].decode(errors='replace')}"
        result.ends.append(finished)
        result.latencies.append(finished - scheduled)
        result.accepted.append(accepted)
    result.connects = connection.connects
    connection.close()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of `values` (inf counts as the largest); 0.0 for none."""
    if not values:
        return 0.0
    return sorted(values)[max(1, math.ceil(fraction * len(values))) - 1]


def _total(results: list[ClientResult], name: str) -> int:
    return sum(getattr(result, name) for result in results)


def summarize(
    results: list[ClientResult], *, plan: Plan, batches: list[int], cpu_cores: float, door: Door
) -> dict[str, Any]:
    """Merge the clients' results into the run's numbers."""
    window, shares = plan.end - plan.measure_from, (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
    latencies = [value for result in results for value in result.latencies]
    # Throughput counts what completed inside the window; latency covers every measured start.
    done = [(n, end) for r in results for n, end in zip(r.accepted, r.ends, strict=True)]
    statuses = sum((result.statuses for result in results), Counter[str]())
    attempts = sum((result.attempts for result in results), Counter[str]())
    endings = Counter(entry[1] for result in results for entry in result.ledger)
    outcomes = {ACKED: 0, LOST: 0, REFUSED: 0} | endings
    return {
        "door": door.name,
        "batch": batches[0] if len(batches) == 1 else batches,
        "clients": len(results),
        "mode": "paced" if plan.interval else "closed",
        "window_s": round(window, 3),
        "requests": len(latencies),
        "requests_per_s": round(sum(1 for _, end in done if end <= plan.end) / window, 1),
        "events_per_s": round(sum(n for n, end in done if end <= plan.end) / window, 1),
        "latency_ms": {
            **{name: round(percentile(latencies, share) * 1000, 2) for name, share in shares},
            "max": round(max(latencies, default=0.0) * 1000, 2),
            "mean": round(sum(latencies) / len(latencies) * 1000, 2) if latencies else 0.0,
        },
        "statuses": statuses,
        "non_success": sum(n for status, n in statuses.items() if status != str(door.success)),
        "duplicates": _total(results, "duplicates"),
        "rejected": _total(results, "rejected"),
        "transport_errors": _total(results, "transport_errors"),
        "first_error": next((result.first_error for result in results if result.first_error), ""),
        "connections_opened": _total(results, "connects"),
        "events_stored_total": _total(results, "stored"),
        "load_cpu_cores": round(cpu_cores, 2),
        "attempts": attempts,
        "unhinted_5xx": _total(results, "unhinted_5xx"),
        "timeouts": _total(results, "timeouts"),
        "retries": _total(results, "retries"),
        "longest_attempt_s": round(max((r.longest_attempt for r in results), default=0.0), 3),
        "outcomes": outcomes,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    batches = [int(size) for size in str(args.batch).split(",")]
    door = DOORS[args.door]
    per_client = [
        build_requests(port=args.port, key=args.key, project=args.project, sizes=batches,
                       seed=1000 + client, door=door)
        for client in range(args.clients)
    ]  # fmt: skip
    interval = args.clients * sum(batches) / len(batches) / args.rate if args.rate else 0.0
    start = time.perf_counter()
    plan = Plan(start, start + args.warmup, start + args.warmup + args.duration, interval,
                os.urandom(4).hex())  # fmt: skip
    results = [ClientResult() for _ in range(args.clients)]
    retry = RetryPolicy(deadline=plan.end + args.retry_grace) if args.retry else None
    threads = [
        threading.Thread(
            target=run_client,
            kwargs={"index": index, "clients": args.clients, "requests": per_client[index],
                    "connection": Connection(HOST, args.port, args.timeout), "plan": plan,
                    "result": results[index], "retry": retry, "door": door},
            daemon=True,
            name=f"client-{index}",
        )
        for index in range(args.clients)
    ]  # fmt: skip
    cpu_before = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=args.warmup + args.duration + args.timeout + args.retry_grace + 5)
    cpu_cores = (time.process_time() - cpu_before) / (time.perf_counter() - start)
    summary = summarize(results, plan=plan, batches=batches, cpu_cores=cpu_cores, door=door)
    if args.rate:
        summary["target_events_per_s"] = args.rate
    if args.ledger:
        with open(args.ledger, "w") as handle:
            rows = [entry for result in results for entry in result.ledger]
            json.dump({"requests": rows}, handle, separators=(",", ":"))
    # The orchestrator matches its memory and CPU samples (time.monotonic) to this window.
    offset = time.monotonic() - time.perf_counter()
    summary["window_monotonic"] = [plan.measure_from + offset, plan.end + offset]
    return summary


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    add = cli.add_argument
    add("--port", type=int, required=True)
    add("--door", default="events", choices=sorted(DOORS), help="bench.doors")
    add("--key", required=True, help="an ingest key of the project")
    add("--project", required=True, help="the project's public id (proj_...)")
    add("--batch", default="100", help="events per request, or a list: 1,100,1000")
    add("--clients", type=int, default=8, help="concurrent connections")
    add("--duration", type=float, default=20.0, help="measured seconds")
    add("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    add("--rate", type=float, default=0.0, help="events/s in total; 0: max")
    add("--timeout", type=float, default=30.0, help="socket timeout, seconds")
    add("--retry", action="store_true", help="resend failed requests (see above)")
    add("--retry-grace", type=float, default=0.0, help="retry s after the end")
    add("--ledger", default="", help="with --retry: write each request's outcome")
    return cli


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if not 1 <= args.clients <= 0xFFF:  # the client number takes 3 hex digits of the token
        cli.error("--clients must be between 1 and 4095")
    json.dump(run(args), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
