"""The leased job runner (``server/outbound/runner.py``): no lost wake-up, failures logged by type only."""

from __future__ import annotations

import asyncio
import logging

import pytest

from server.outbound.runner import LeasedRunner


class Job:
    """A job whose rounds the test releases one by one; the first round waits to be let go."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.rounds = 0
        self.fail = fail
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def run_round(self) -> int:
        self.rounds += 1
        self.entered.set()
        if self.rounds == 1:
            await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return 0

    def pause(self, done: int) -> float:
        return 3600.0  # only a poke starts another round within the test


async def until(check: object, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


@pytest.mark.asyncio
async def test_a_poke_during_a_round_starts_the_next_round_at_once() -> None:
    job = Job()
    runner = LeasedRunner(job, "test")
    runner.start()
    try:
        await job.entered.wait()
        runner.poke()  # arrives while round 1 runs
        job.release.set()
        await until(lambda: job.rounds == 2)  # not after the hour's pause
        await asyncio.sleep(0.05)
        assert job.rounds == 2  # and one poke is one more round, not a loop
        runner.poke()
        await until(lambda: job.rounds == 3)
    finally:
        await runner.close()
    assert not runner.running


@pytest.mark.asyncio
async def test_a_failed_round_is_logged_by_its_type_alone(caplog: pytest.LogCaptureFixture) -> None:
    job = Job(fail=RuntimeError("INSERT … parameters: ('13912345678', '110101199003074514')"))
    runner = LeasedRunner(job, "test")
    job.release.set()
    with caplog.at_level(logging.DEBUG, logger="server.outbound.runner"):
        runner.start()
        try:
            await until(lambda: job.rounds == 1 and bool(caplog.records))
            runner.poke()
            await until(lambda: job.rounds == 2)  # the runner goes on after a failure
        finally:
            await runner.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "server.outbound.runner"]
    assert lines[0] == "test: round failed (RuntimeError)"
    assert not any("139" in line or "1101" in line for line in lines)
    assert all(r.exc_info is None for r in caplog.records)
