"""``mediation intake-key``: a police agency's keys made, listed and revoked from the command line (a real
subprocess on a fresh data folder); the secret it prints is the one the server checks, and is never stored."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from server.config import load_settings
from server.identity.keys import INTAKE_KEYS, derive_key
from server.intake.keys import key_secret

CLI = [sys.executable, "-m", "server.cli"]


def test_keys_are_created_listed_and_revoked(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_")}
    env["MEDIATION_DATA_DIR"] = str(tmp_path / "var")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60)

    assert run("org", "add", "--kind", "police", "--name", "示范区公安局交通警察大队").returncode == 0
    assert run("org", "add", "--kind", "peoples_mediation", "--name", "示范区人民调解委员会").returncode == 0
    ids = {line.split()[1]: line.split()[0] for line in run("org", "list").stdout.splitlines()}
    police, mediation = ids["police"], ids["peoples_mediation"]

    made = run("intake-key", "create", "--organisation", police)
    assert made.returncode == 0, made.stderr
    key_id = re.search(r"key id: (ik_[0-9a-f]{32})", made.stdout)
    secret = re.search(r"secret: ([0-9a-f]{64})", made.stdout)
    assert key_id and secret, made.stdout
    settings = load_settings(environ=env)
    assert bytes.fromhex(secret[1]) == key_secret(derive_key(settings.signing_key(), INTAKE_KEYS), key_id[1])

    refused = run("intake-key", "create", "--organisation", mediation)  # not a police agency
    assert refused.returncode == 1 and "police" in refused.stderr and "Traceback" not in refused.stderr
    assert run("intake-key", "create", "--organisation", police).returncode == 0
    third = run("intake-key", "create", "--organisation", police)
    assert third.returncode == 1 and "2 active keys" in third.stderr

    revoked = run("intake-key", "revoke", key_id[1])
    assert revoked.returncode == 0 and key_id[1] in revoked.stdout
    again = run("intake-key", "revoke", key_id[1])
    assert again.returncode == 1 and "Traceback" not in again.stderr
    listing = run("intake-key", "list", "--organisation", police).stdout.splitlines()
    assert len(listing) == 2 and [line for line in listing if "revoked" in line][0].startswith(key_id[1])
    assert sum("revoked" in line for line in listing) == 1 and sum("active" in line for line in listing) == 1

    with sqlite3.connect(tmp_path / "var" / "mediation.db") as db:
        rows = db.execute("SELECT * FROM intake_keys").fetchall()
    assert len(rows) == 2 and secret[1] not in repr(rows)
