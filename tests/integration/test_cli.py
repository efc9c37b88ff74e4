"""The ``mediation`` command as a newcomer uses it: serve on embedded defaults, demo links, TLS."""

from __future__ import annotations

import datetime as dt
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.processes import free_port
from tests.speech import MODELS

CLI = [sys.executable, "-m", "server.cli"]


def env_for(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_")}
    # the bundled speech model is assembled once per checkout, not in every data folder
    env.update(MEDIATION_DATA_DIR=str(data_dir), MEDIATION_PORT=str(port), MEDIATION_MODEL_DIR=str(MODELS))
    return env


def get(url: str, token: str | None = None, context: ssl.SSLContext | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5, context=context) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def wait_healthy(url: str, proc: subprocess.Popen[bytes], context: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            status, body = get(url + "/api/v1/health", context=context)
            if status == 200 and body["status"] == "ok":
                return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become healthy within 30 s")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = env_for(tmp_path / "var", port)
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen([*CLI, "serve"], env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            wait_healthy(f"http://127.0.0.1:{port}", proc)
            yield f"http://127.0.0.1:{port}", env
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    log = log_path.read_text()
    assert "Traceback" not in log, log
    assert "serving on http://localhost:" in log


def test_fresh_data_dir_serves_and_demo_links_work(server: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    base, env = server
    assert (tmp_path / "var" / "mediation.db").exists()
    out = subprocess.run([*CLI, "demo", "--json"], env=env, capture_output=True, check=True, timeout=60)
    demo = json.loads(out.stdout)
    assert set(demo["links"]) == {"applicant", "respondent", "insurer"}
    for role, link in demo["links"].items():
        assert link.startswith(f"http://localhost:{env['MEDIATION_PORT']}/join#token=")
        token = link.split("#token=")[1]
        status, me = get(base + "/api/v1/me", token)
        assert status == 200 and me["role"] == role and me["case_id"] == demo["case_id"]
        status, view = get(f"{base}/api/v1/cases/{demo['case_id']}", token)
        assert status == 200 and view["kind"] == "traffic_accident" and view["state"] == "session_scheduled"
    with urllib.request.urlopen(base + "/join", timeout=5) as resp:
        page = resp.read().decode()
        assert "加入调解" in page and "default-src 'self'" in resp.headers["Content-Security-Policy"]
    login = urllib.request.Request(
        base + "/api/v1/auth/login",
        data=json.dumps({"username": demo["mediator"]["username"], "password": demo["mediator"]["password"]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(login, timeout=5) as resp:
        token = json.loads(resp.read())["token"]
    status, page = get(base + "/api/v1/cases", token)
    assert status == 200 and page["items"][0]["id"] == demo["case_id"]
    text = subprocess.run([*CLI, "demo"], env=env, capture_output=True, check=True, timeout=60).stdout.decode()
    assert "Join links" in text and "/join#token=" in text
    verify = subprocess.run([*CLI, "audit", "verify", demo["case_id"]], env=env, capture_output=True, timeout=60)
    assert verify.returncode == 0 and b"chain intact" in verify.stdout
    upgrade = subprocess.run([*CLI, "db", "upgrade"], env=env, capture_output=True, timeout=60)
    assert upgrade.returncode == 0 and b"up to date" in upgrade.stdout
    # out of the box, the bundled speech engine loads in its worker process
    for _ in range(300):
        status, health = get(base + "/api/v1/health")
        if health["transcript"] != "loading":
            break
        time.sleep(0.2)
    assert health["transcript"] == "ready", health


def test_account_create_and_bad_configuration(tmp_path: Path) -> None:
    env = env_for(tmp_path / "var", free_port())
    ok = subprocess.run(
        [*CLI, "account", "create", "--username", "chen", "--kind", "judge", "--name", "陈法官"],
        env={**env, "MEDIATION_PASSWORD": "a long enough password"},
        capture_output=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    dup = subprocess.run(
        [*CLI, "account", "create", "--username", "chen", "--kind", "judge", "--name", "x"],
        env={**env, "MEDIATION_PASSWORD": "a long enough password"},
        capture_output=True,
        timeout=60,
    )
    assert dup.returncode == 1 and b"taken" in dup.stderr and b"Traceback" not in dup.stderr
    args = ["account", "create", "--username", "wang", "--kind", "mediator", "--name", "王调解员"]
    password = {**env, "MEDIATION_PASSWORD": "a long enough password"}
    bad_phone = subprocess.run([*CLI, *args, "--phone", "call me"], env=password, capture_output=True, timeout=60)
    assert bad_phone.returncode == 2 and b"--phone" in bad_phone.stderr
    with_phone = subprocess.run([*CLI, *args, "--phone", "13700001111"], env=password, capture_output=True, timeout=60)
    assert with_phone.returncode == 0, with_phone.stderr
    import sqlite3

    with sqlite3.connect(tmp_path / "var" / "mediation.db") as db:
        assert db.execute("SELECT phone FROM accounts WHERE username = 'wang'").fetchone() == ("13700001111",)
    bad = subprocess.run([*CLI, "serve"], env={**env, "MEDIATION_PORT": "eighty"}, capture_output=True, timeout=60)
    assert bad.returncode == 1 and b"port" in bad.stderr and b"Traceback" not in bad.stderr


def test_organisations_from_the_command_line(tmp_path: Path) -> None:
    env = {**env_for(tmp_path / "var", free_port()), "MEDIATION_PASSWORD": "a long enough password"}

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*CLI, *args], env=env, capture_output=True, timeout=60)

    added = run("org", "add", "--kind", "peoples_mediation", "--name", "城东人民调解委员会", "--region", "330106")
    assert added.returncode == 0 and "城东人民调解委员会" in added.stdout.decode(), added.stderr
    assert run("org", "add", "--kind", "court", "--name", "城东人民调解委员会").returncode == 1  # the name is taken
    bad = run("org", "add", "--kind", "court", "--name", "有\x07控制符")
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr
    assert run("org", "add", "--kind", "hospital", "--name", "医院").returncode == 2  # no such kind
    # an account goes into the organisation it names; a judge does not fit a mediation committee
    create = ["account", "create", "--organization", "城东人民调解委员会"]
    admin = run(*create, "--username", "chen", "--kind", "org_admin", "--name", "陈管理员")
    assert admin.returncode == 0, admin.stderr
    judge = run(*create, "--username", "li", "--kind", "judge", "--name", "李法官")
    assert judge.returncode == 1 and b"cannot hold" in judge.stderr and b"Traceback" not in judge.stderr
    listing = run("org", "list")
    assert listing.returncode == 0
    [line] = [x for x in listing.stdout.decode().splitlines() if "城东" in x]
    assert "peoples_mediation" in line
    import sqlite3

    with sqlite3.connect(tmp_path / "var" / "mediation.db") as db:
        rows = db.execute(
            "SELECT a.username, o.name FROM accounts a JOIN organisations o ON o.id = a.organisation_id"
        ).fetchall()
    assert rows == [("chen", "城东人民调解委员会")]


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_serves_https_with_a_configured_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    env = env_for(tmp_path / "var", port)
    proc = subprocess.Popen(
        [*CLI, "serve", "--tls-cert", str(cert), "--tls-key", str(key)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ctx = ssl.create_default_context(cafile=str(cert))
        wait_healthy(f"https://localhost:{port}", proc, context=ctx)
        status, body = get(f"https://localhost:{port}/api/v1/health", context=ctx)
        assert status == 200 and body["database"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
