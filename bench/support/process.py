"""What the benchmark scripts share: running the server's CLI, stopping processes, ports, logs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


async def run_cli(args: list[str], env: dict[str, str], limit_s: float) -> None:
    """Run ``python -m server.cli ARGS`` to completion; raise with its output if it fails."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), limit_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"server.cli {' '.join(args)} took longer than {limit_s:.0f} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"server.cli {' '.join(args)} failed ({proc.returncode}): {out.decode(errors='replace')}")


async def stop_process(proc: asyncio.subprocess.Process, grace: float = 10.0) -> None:
    """SIGINT (aiohttp shuts down cleanly), then SIGKILL after ``grace`` seconds."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await asyncio.wait_for(proc.wait(), grace)


def log_tail(path: Path, lines: int = 30) -> str:
    """The end of a server log, for error messages."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


async def wait_healthy(
    http: aiohttp.ClientSession, base: str, proc: asyncio.subprocess.Process, limit_s: float
) -> None:
    """Poll ``/api/v1/health`` until it answers 200 (bounded); fail if the server exits."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was healthy")
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(f"{base}/api/v1/health", timeout=aiohttp.ClientTimeout(total=2)) as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"server not healthy after {limit_s:.0f} s")


async def spawn_server(data_dir: Path, env: dict[str, str], log_path: Path) -> tuple[asyncio.subprocess.Process, str]:
    """Start ``server.cli serve`` on a free loopback port, its output in ``log_path``; return it and its URL.

    The live transcript is off unless ``env`` turns it on: its workers would share the CPU being measured.
    """
    env = {"MEDIATION_TRANSCRIPT_ENGINE": "off", **env}
    port = free_port()
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server.cli",
            "--data-dir",
            str(data_dir),
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            cwd=REPO,
            env=env,
            stdout=log_fd,
            stderr=asyncio.subprocess.STDOUT,
        )
    finally:
        os.close(log_fd)
    return proc, f"http://{HOST}:{port}"
