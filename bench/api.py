"""HTTP benchmark of the case API: case creation and case reads on SQLite and PostgreSQL.

The real server runs in its own process (``python -m server.cli serve``) on
127.0.0.1, so the load generator here does not share its CPU accounting; the
server's CPU time is read from ``/proc/<pid>/stat`` around every phase.

Per backend: warm-up, ``GET /api/v1/health`` (baseline: no auth, one trivial
query), N case creations (``POST /api/v1/cases``), M reads of random created
cases (``GET /api/v1/cases/{id}``), then health again to show drift on a noisy
machine. The last line printed is one JSON object with every figure.

    .venv/bin/python bench/api.py --quick
    .venv/bin/python bench/api.py --backends sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from support.process import log_tail, run_cli, spawn_server, stop_process, wait_healthy  # noqa: E402

HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "root"
PG_ADMIN_DB = "test"
CLK_TCK = os.sysconf("SC_CLK_TCK")
USERNAME = "bench"
API = "/api/v1"


@dataclass(frozen=True)
class Sizes:
    """How much work each phase does, and how long it may take at most."""

    warmup: int
    health: int
    creates: int
    reads: int
    phase_seconds: float


QUICK = Sizes(warmup=20, health=300, creates=200, reads=500, phase_seconds=10.0)
FULL = Sizes(warmup=50, health=2000, creates=1000, reads=3000, phase_seconds=60.0)


@dataclass
class PhaseResult:
    """What one phase measured."""

    backend: str
    operation: str
    planned: int
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: int = 0
    seconds: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    timed_out: bool = False

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return ordered[idx] * 1000.0

    @property
    def server_cpu_ms_per_req(self) -> float:
        return self.server_cpu_s * 1000.0 / self.done if self.done else float("nan")

    @property
    def client_cpu_ms_per_req(self) -> float:
        return self.client_cpu_s * 1000.0 / self.done if self.done else float("nan")

    def unexpected(self, ok: int) -> dict[str, int]:
        bad = {str(code): n for code, n in sorted(self.statuses.items()) if code != ok}
        if self.failures:
            bad["exception"] = self.failures
        return bad


# ---------------------------------------------------------------- process helpers


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        text = fh.read()
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def server_env(database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_")}
    env["MEDIATION_SECRET_KEY"] = secrets.token_hex(24)  # 48 characters
    env["MEDIATION_LOG_LEVEL"] = "WARNING"
    env["PYTHONUNBUFFERED"] = "1"
    if database_url:
        env["MEDIATION_DATABASE_URL"] = database_url
    return env


# ---------------------------------------------------------------- PostgreSQL


async def pg_create_database() -> str:
    name = f"bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(host=HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def pg_drop_database(name: str) -> None:
    conn = await asyncpg.connect(host=HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# ---------------------------------------------------------------- load generation

Request = Callable[[aiohttp.ClientSession, int], Awaitable[tuple[int, Any]]]


async def run_phase(
    http: aiohttp.ClientSession,
    result: PhaseResult,
    request: Request,
    concurrency: int,
    max_seconds: float,
    pid: int | None,
    on_ok: Callable[[Any], None] | None = None,
    ok_status: int = 200,
) -> PhaseResult:
    """Send ``result.planned`` requests, ``concurrency`` in flight, for at most ``max_seconds``."""
    next_index = 0
    deadline = time.perf_counter() + max_seconds

    async def worker() -> None:
        nonlocal next_index
        while next_index < result.planned:
            if time.perf_counter() >= deadline:
                result.timed_out = True
                return
            i = next_index
            next_index += 1
            t0 = time.perf_counter()
            try:
                status, payload = await request(http, i)
            except (aiohttp.ClientError, TimeoutError):
                result.failures += 1
                continue
            result.latencies.append(time.perf_counter() - t0)
            result.statuses[status] += 1
            if status == ok_status and on_ok is not None:
                on_ok(payload)

    cpu0 = cpu_seconds(pid) if pid is not None else 0.0
    client0 = time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - t0
    result.client_cpu_s = time.process_time() - client0
    if pid is not None:
        result.server_cpu_s = cpu_seconds(pid) - cpu0
    return result


async def bench_backend(backend: str, sizes: Sizes, concurrency: int, seed: int) -> list[PhaseResult]:
    rng = random.Random(seed)
    pg_name: str | None = None
    proc: asyncio.subprocess.Process | None = None
    with tempfile.TemporaryDirectory(prefix=f"bench-api-{backend}-") as tmp:
        data_dir = Path(tmp)
        log_path = data_dir / "server.log"
        try:
            if backend == "postgres":
                pg_name = await pg_create_database()
                env = server_env(f"postgresql+asyncpg://{HOST}:{PG_PORT}/{pg_name}")
            else:
                env = server_env(None)
            password = secrets.token_urlsafe(16)
            await run_cli(["--data-dir", str(data_dir), "db", "upgrade"], env, limit_s=60)
            await run_cli(
                [
                    "--data-dir",
                    str(data_dir),
                    "account",
                    "create",
                    "--username",
                    USERNAME,
                    "--kind",
                    "mediator",
                    "--name",
                    "Bench",
                ],
                {**env, "MEDIATION_PASSWORD": password},
                limit_s=60,
            )
            proc, base = await spawn_server(data_dir, env, log_path)
            connector = aiohttp.TCPConnector(limit=concurrency)
            timeout = aiohttp.ClientTimeout(total=30)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
                await wait_healthy(http, base, proc, limit_s=60)
                async with http.post(f"{base}{API}/auth/login", json={"username": USERNAME, "password": password}) as r:
                    if r.status != 200:
                        raise RuntimeError(f"login failed: {r.status} {await r.text()}")
                    token = (await r.json())["token"]
                auth = {"Authorization": f"Bearer {token}"}
                case_ids: list[str] = []

                async def health(h: aiohttp.ClientSession, _i: int) -> tuple[int, Any]:
                    async with h.get(f"{base}{API}/health") as r:
                        await r.read()
                        return r.status, None

                async def create(h: aiohttp.ClientSession, i: int) -> tuple[int, Any]:
                    body = {"kind": "traffic_accident", "title": f"Bench case {i}"}
                    async with h.post(f"{base}{API}/cases", json=body, headers=auth) as r:
                        payload = await r.json(content_type=None)
                        return r.status, payload

                async def read(h: aiohttp.ClientSession, _i: int) -> tuple[int, Any]:
                    cid = rng.choice(case_ids)
                    async with h.get(f"{base}{API}/cases/{cid}", headers=auth) as r:
                        await r.read()
                        return r.status, None

                def keep(payload: Any) -> None:
                    case_ids.append(payload["id"])

                pid = proc.pid
                w = sizes.warmup
                # Warm-up: imports, pools, statement caches; not reported.
                await run_phase(http, PhaseResult(backend, "warmup", w), health, concurrency, 15, None)
                await run_phase(http, PhaseResult(backend, "warmup", w), create, concurrency, 15, None, keep, 201)
                if not case_ids:
                    raise RuntimeError(f"warm-up created no case; server log:\n{log_tail(log_path)}")
                await run_phase(http, PhaseResult(backend, "warmup", w), read, concurrency, 15, None)

                limit = sizes.phase_seconds
                results = [
                    await run_phase(http, PhaseResult(backend, "health", sizes.health), health, concurrency, limit, pid)
                ]
                results.append(
                    await run_phase(
                        http, PhaseResult(backend, "create", sizes.creates), create, concurrency, limit, pid, keep, 201
                    )
                )
                results.append(
                    await run_phase(http, PhaseResult(backend, "read", sizes.reads), read, concurrency, limit, pid)
                )
                results.append(
                    await run_phase(
                        http, PhaseResult(backend, "health-after", sizes.health), health, concurrency, limit, pid
                    )
                )
                return results
        except Exception:
            print(f"[{backend}] server log tail:\n{log_tail(log_path)}", file=sys.stderr)
            raise
        finally:
            if proc is not None:
                await stop_process(proc)
            if pg_name is not None:
                await pg_drop_database(pg_name)


# ---------------------------------------------------------------- report


def print_table(results: list[PhaseResult]) -> None:
    header = (
        f"{'backend':<9} {'operation':<13} {'requests':>8} {'seconds':>8} {'req/s':>8} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'srv CPU ms/req':>14} {'cli CPU ms/req':>14}  non-2xx"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ok = 201 if r.operation == "create" else 200
        bad = r.unexpected(ok)
        note = ", ".join(f"{k}: {v}" for k, v in bad.items()) or "-"
        if r.timed_out:
            note += f" (time limit: {r.done}/{r.planned})"
        print(
            f"{r.backend:<9} {r.operation:<13} {r.done:>8} {r.seconds:>8.2f} {r.rps:>8.1f} "
            f"{r.percentile_ms(0.5):>8.1f} {r.percentile_ms(0.95):>8.1f} "
            f"{r.server_cpu_ms_per_req:>14.2f} {r.client_cpu_ms_per_req:>14.2f}  {note}"
        )


def summary(results: list[PhaseResult], args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "bench": "api",
        "quick": bool(args.quick),
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
    }
    by = {(r.backend, r.operation): r for r in results}
    backends = sorted({r.backend for r in results}, key=["sqlite", "postgres"].index)
    for b in backends:
        h1, h2 = by[(b, "health")], by[(b, "health-after")]
        health_rps = (h1.rps + h2.rps) / 2
        for op in ("create", "read"):
            r = by[(b, op)]
            out[f"{b}_{op}_rps"] = round(r.rps, 1)
            out[f"{b}_{op}_requests"] = r.done
            out[f"{b}_{op}_p50_ms"] = round(r.percentile_ms(0.5), 2)
            out[f"{b}_{op}_p95_ms"] = round(r.percentile_ms(0.95), 2)
            out[f"{b}_{op}_server_cpu_ms"] = round(r.server_cpu_ms_per_req, 2)
            out[f"{b}_{op}_non2xx"] = r.unexpected(201 if op == "create" else 200)
        out[f"{b}_health_rps"] = round(health_rps, 1)
        out[f"{b}_health_before_rps"] = round(h1.rps, 1)
        out[f"{b}_health_after_rps"] = round(h2.rps, 1)
        out[f"{b}_health_p50_ms"] = round((h1.percentile_ms(0.5) + h2.percentile_ms(0.5)) / 2, 2)
        out[f"{b}_health_server_cpu_ms"] = round((h1.server_cpu_ms_per_req + h2.server_cpu_ms_per_req) / 2, 2)
        out[f"{b}_health_non2xx"] = {**h1.unexpected(200), **h2.unexpected(200)}
        out[f"read_to_health_ratio_{b}"] = round(by[(b, "read")].rps / health_rps, 3) if health_rps else None
        out[f"create_to_health_ratio_{b}"] = round(by[(b, "create")].rps / health_rps, 3) if health_rps else None
    if "sqlite" in backends and "postgres" in backends:
        for op in ("create", "read", "health"):
            s = out[f"sqlite_{op}_rps"]
            out[f"postgres_to_sqlite_{op}_ratio"] = round(out[f"postgres_{op}_rps"] / s, 3) if s else None
    out["timed_out_phases"] = [f"{r.backend}:{r.operation}" for r in results if r.timed_out]
    return out


async def main_async(args: argparse.Namespace) -> int:
    sizes = QUICK if args.quick else FULL
    if args.creates is not None:
        sizes = Sizes(sizes.warmup, sizes.health, args.creates, sizes.reads, sizes.phase_seconds)
    if args.reads is not None:
        sizes = Sizes(sizes.warmup, sizes.health, sizes.creates, args.reads, sizes.phase_seconds)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in ("sqlite", "postgres"):
            print(f"unknown backend {b!r} (use sqlite, postgres)", file=sys.stderr)
            return 2
    print(
        f"bench/api.py: {', '.join(backends)}; health {sizes.health}, creates {sizes.creates}, "
        f"reads {sizes.reads}; {args.concurrency} in flight; at most {sizes.phase_seconds:.0f} s a phase; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    results: list[PhaseResult] = []
    t0 = time.perf_counter()
    for i, b in enumerate(backends):
        results.extend(await bench_backend(b, sizes, args.concurrency, args.seed + i))
    print()
    print_table(results)
    print(f"\ntotal wall time {time.perf_counter() - t0:.1f} s")
    print(json.dumps(summary(results, args)))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (under a minute)")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    parser.add_argument("--creates", type=int, default=None, help="override the number of case creations")
    parser.add_argument("--reads", type=int, default=None, help="override the number of case reads")
    parser.add_argument("--seed", type=int, default=1, help="seed for choosing cases to read")
    args = parser.parse_args()
    if not 1 <= args.concurrency <= 64:
        parser.error("--concurrency must be between 1 and 64")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
