"""Settings: defaults, file, environment, and the generated secret key."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest

from server.config import load_settings
from server.errors import ConfigError


def test_defaults_are_single_machine(tmp_path: Path) -> None:
    s = load_settings(environ={"MEDIATION_DATA_DIR": str(tmp_path)})
    assert s.resolved_database_url == f"sqlite+aiosqlite:///{(tmp_path / 'mediation.db').resolve()}"
    assert s.resolved_blob_dir == tmp_path / "blobs"
    assert s.host == "127.0.0.1" and s.port == 8080 and not s.tls
    assert s.base_url == "http://localhost:8080"


def test_file_then_environment_then_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "m.toml"
    cfg.write_text(
        '[mediation]\nport = 9000\nhost = "0.0.0.0"\njoin_link_ttl = 3600\npublic_url = "https://m.example"\n'
    )
    s = load_settings(cfg, environ={"MEDIATION_PORT": "9100"}, overrides={"host": "10.0.0.1"})
    assert s.port == 9100 and s.host == "10.0.0.1"
    assert s.join_link_ttl == timedelta(hours=1)
    assert s.base_url == "https://m.example"


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "m.toml"
    cfg.write_text("[mediation]\nprot = 1\n")
    with pytest.raises(ConfigError, match="prot"):
        load_settings(cfg, environ={})
    with pytest.raises(ConfigError, match="port"):
        load_settings(environ={"MEDIATION_PORT": "eighty"})
    with pytest.raises(ConfigError, match="both"):
        load_settings(environ={"MEDIATION_TLS_CERT": "/x.pem"})
    with pytest.raises(ConfigError, match="32"):
        load_settings(environ={"MEDIATION_SECRET_KEY": "short"}).signing_key()


def test_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    s = load_settings(environ={"MEDIATION_DATA_DIR": str(tmp_path / "d")})
    key = s.signing_key()
    assert len(key) == 64
    assert s.signing_key() == key
    mode = stat.S_IMODE((tmp_path / "d" / "secret.key").stat().st_mode)
    assert mode == 0o600


def test_transcript_settings(tmp_path: Path) -> None:
    s = load_settings(environ={"MEDIATION_DATA_DIR": str(tmp_path)})
    assert (s.transcript_engine, s.transcript_language, s.transcript_workers) == ("whisper", "zh", 1)
    assert s.resolved_model_dir == tmp_path / "models"
    s = load_settings(
        environ={
            "MEDIATION_TRANSCRIPT_ENGINE": "pocketsphinx",
            "MEDIATION_TRANSCRIPT_LANGUAGE": "en",
            "MEDIATION_MODEL_DIR": str(tmp_path / "m"),
        }
    )
    assert s.transcript_engine == "pocketsphinx" and s.resolved_model_dir == tmp_path / "m"
    with pytest.raises(ConfigError, match="transcript_engine must be"):
        load_settings(environ={"MEDIATION_TRANSCRIPT_ENGINE": "siri"})
    with pytest.raises(ConfigError, match="needs transcript_model"):
        load_settings(environ={"MEDIATION_TRANSCRIPT_ENGINE": "vosk"})
    with pytest.raises(ConfigError, match="English only"):
        load_settings(environ={"MEDIATION_TRANSCRIPT_ENGINE": "pocketsphinx"})
    with pytest.raises(ConfigError, match="transcript_language"):
        load_settings(environ={"MEDIATION_TRANSCRIPT_LANGUAGE": "fr"})
    with pytest.raises(ConfigError, match="at least 1"):
        load_settings(environ={"MEDIATION_TRANSCRIPT_WORKERS": "0"})
    assert load_settings(environ={"MEDIATION_TRANSCRIPT_BEAM_SIZE": "5"}).transcript_beam_size == 5
    for wrong in ("0", "11"):
        with pytest.raises(ConfigError, match="transcript_beam_size must be from 1 to 10"):
            load_settings(environ={"MEDIATION_TRANSCRIPT_BEAM_SIZE": wrong})


def test_signing_ca_paths_come_in_pairs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="signing_ca_key and signing_ca_cert"):
        load_settings(environ={"MEDIATION_SIGNING_CA_KEY": str(tmp_path / "ca.key")})
    s = load_settings(
        environ={"MEDIATION_SIGNING_CA_KEY": str(tmp_path / "k"), "MEDIATION_SIGNING_CA_CERT": str(tmp_path / "c")}
    )
    assert s.signing_ca_key == tmp_path / "k" and s.signing_ca_cert == tmp_path / "c"
