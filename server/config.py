"""Settings: safe single-machine defaults, overridden by a TOML file, then by environment.

Precedence (last wins): built-in defaults → ``MEDIATION_CONFIG`` (or ``--config``)
TOML file → ``MEDIATION_*`` environment variables → command-line flags.

With nothing configured, everything lives under one data folder (``./var``):
the SQLite database, the blob store and a secret key generated on first start
(file mode 0600). Several nodes must share ``MEDIATION_SECRET_KEY`` and a
PostgreSQL ``MEDIATION_DATABASE_URL``.
"""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from server.errors import ConfigError
from server.store.files import private_data_folder, write_new_private_file


@dataclass(frozen=True)
class Settings:
    """Everything the server can be told."""

    data_dir: Path = Path("var")
    """Folder for the SQLite file, blobs and the generated secret key."""
    database_url: str = ""
    """SQLAlchemy async URL; empty means SQLite in ``data_dir``."""
    blob_dir: Path | None = None
    """Blob store folder; None means ``data_dir/blobs``."""
    host: str = "127.0.0.1"
    """Address to listen on."""
    port: int = 8080
    """Port to listen on."""
    tls_cert: Path | None = None
    """PEM certificate chain; with ``tls_key`` the server speaks HTTPS."""
    tls_key: Path | None = None
    """PEM private key."""
    public_url: str = ""
    """Base URL put into links (e.g. ``https://mediation.example.org``); empty: from host and port."""
    secret_key: str = field(default="", repr=False)
    """Key that signs tokens (hex or text, at least 32 bytes); empty: generated in ``data_dir``."""
    join_link_ttl: timedelta = timedelta(days=7)
    """Lifetime of a participant's join link."""
    session_ttl: timedelta = timedelta(hours=12)
    """Lifetime of a mediator's or judge's login."""
    mediation_period: timedelta = timedelta(days=30)
    """The mediation period of a case, from the mediator's acceptance (in seconds in files and the
    environment: ``MEDIATION_MEDIATION_PERIOD=3888000`` is 45 days); extended only with every party's consent."""
    max_body_bytes: int = 64 * 1024
    """Largest JSON request body."""
    max_document_bytes: int = 20 * 1024 * 1024
    """Largest uploaded document."""
    ice_servers: str = ""
    """JSON list of STUN/TURN servers for pages and the media server, e.g.
    ``[{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}]``;
    empty: none (loopback and LAN only; no default server on the internet)."""
    media_addresses: str = ""
    """Comma-separated local IP addresses the media server offers to browsers (ICE host
    candidates); empty: every interface. Set it to the public or LAN address only."""
    video_codec: str = "VP8"
    """The one video codec of every room: ``VP8`` (default) or ``H264``."""
    media_stall_seconds: float = 5.0
    """Seconds without media from a participant before the room is told they are gone."""
    sockets_per_participant: int = 4
    """Live sockets one participant (or logged-in account) may hold on one node; more are refused
    (``too_many_connections``). A page that reconnects holds two for a moment."""
    sockets_per_address: int = 64
    """Live sockets one client address may hold on one node; more are refused (``too_many_connections``)."""
    socket_recheck_seconds: float = 30.0
    """How often every live socket's credential is re-checked against the store (revocations are also
    pushed at once; this catches one made where no push reaches, e.g. another process without Redis)."""
    recording_master_key: str = field(default="", repr=False)
    """64 hex digits wrapping every case's recording key; empty: generated in ``data_dir``."""
    recording_segment_seconds: float = 4.0
    """Length of a recording segment: a crash loses at most this much."""
    transcript_engine: str = "whisper"
    """Live transcript engine: ``whisper`` (bundled Whisper base, Mandarin and English),
    ``pocketsphinx`` (bundled, English only), ``vosk`` or ``sherpa-onnx`` (need
    ``transcript_model``), or ``off``."""
    transcript_model: str = ""
    """Model folder for the engine; empty: the bundled model (whisper, pocketsphinx)."""
    transcript_language: str = "zh"
    """Language spoken in sessions: ``zh`` (Mandarin, captions in simplified characters) or ``en``."""
    transcript_workers: int = 1
    """Recognition worker processes (each loads the model: about 350 MB for Whisper base)."""
    transcript_threads: int = 1
    """CPU threads per worker."""
    transcript_beam_size: int = 1
    """Whisper's beam width: 1 (greedy) or up to 10. On the Mandarin set beam 5 read CER 0.045 against 0.073 for
    about 45 % more CPU per utterance (``docs/benchmarks.md``): for servers with a core to spare per worker."""
    model_dir: Path | None = None
    """Where the bundled speech model is assembled; None means ``data_dir/models``."""
    signing_ca_key: Path | None = None
    """PEM key of the platform's signing CA (ECDSA P-256); None: generated once in ``data_dir/signing``."""
    signing_ca_cert: Path | None = None
    """PEM certificate of the platform's signing CA (with ``signing_ca_key``)."""
    signing_tsa_url: str = ""
    """An external RFC 3161 timestamp authority, e.g. ``http://tsa.example.org/tsr``; empty: the
    platform's own (also served at ``/api/v1/tsa``)."""
    signing_tsa_roots: Path | None = None
    """PEM file with the certificate(s) the external authority's tokens chain to (trusted when verifying)."""
    notifier: str = "log"
    """Where messages go on a channel that is not configured (e-mail goes over SMTP when
    ``smtp_host`` is set, SMS through the gateway when ``sms_gateway_url`` is set): ``log``
    (records only that a message went out, to a masked address) or ``console`` (development
    only: prints messages, codes included, to standard output)."""
    smtp_host: str = ""
    """Mail server for e-mail (codes, electronic service); empty: no e-mail channel."""
    smtp_port: int = 25
    """Mail server port (587 for ``starttls``, 465 for ``tls`` are usual)."""
    smtp_tls: str = "none"
    """How the mail connection is protected: ``none``, ``starttls`` or ``tls`` (TLS from the start)."""
    smtp_username: str = ""
    """Mail server login; empty: no login."""
    smtp_password: str = field(default="", repr=False)
    """Mail server password."""
    smtp_from: str = "noreply@localhost"
    """Sender address; its host part also names Message-IDs."""
    smtp_timeout: float = 10.0
    """Seconds to wait for the mail server at each step."""
    sms_gateway_url: str = ""
    """HTTP(S) URL of the SMS gateway (signed JSON POSTs); empty: no SMS channel."""
    sms_gateway_key: str = field(default="", repr=False)
    """Shared key that signs requests to the SMS gateway (HMAC-SHA256); needed with ``sms_gateway_url``."""
    sms_receipts: bool = False
    """Whether the gateway reports each message's delivery to ``POST /api/v1/sms/receipts`` (signed with
    the same key). With receipts, SMS service takes effect when the phone received the message; without,
    when the gateway accepted it."""
    webhook_urls: str = ""
    """Comma-separated http(s) URLs that receive a signed JSON POST for every change of a case's state
    (see ``server.outbound.webhooks``); empty: no webhooks."""
    webhook_secret: str = field(default="", repr=False)
    """Shared key that signs webhook requests (HMAC-SHA256, at least 32 characters); needed with ``webhook_urls``."""
    webhook_timeout: float = 10.0
    """Seconds to wait for a webhook receiver's answer before the attempt counts as failed."""
    feed_urls: str = ""
    """Comma-separated http(s) URLs of aggregation feeds (e.g. the national traffic-dispute platform):
    each receives every case event in the documented feed format (``docs/feed.md``), signed, in order,
    retried until it answers 2xx (``server.outbound.feed``); empty: no feed."""
    feed_secret: str = field(default="", repr=False)
    """Shared key that signs feed requests (HMAC-SHA256, at least 32 characters); needed with ``feed_urls``."""
    deadline_interval: float = 30.0
    """Seconds between the deadline scheduler's looks for passed deadlines (sooner when a known one
    falls due earlier); a restart looks at once."""
    claim_payment_working_days: int = 10
    """Working days an insurer has to pay a one-click claim (一键理赔) from its submission (weekends and
    ``claim_holidays`` skipped; Beijing dates)."""
    claim_holidays: str = ""
    """Comma-separated public holidays (YYYY-MM-DD) that are no working days for claims' deadlines."""
    playback_parties: bool = False
    """Whether parties may play the recordings of their own case (mediators and judges always may)."""
    playback_cache_mb: int = 1024
    """Disk for built clips that ``Range`` requests of a playback reuse (encrypted with a key that
    lives only in memory, in a temporary folder); least recently used first out; 0: no cache."""
    redis_url: str = ""
    """Redis for several nodes (room claims), e.g. ``redis://127.0.0.1:6379/0``; empty: one node."""
    cluster_urls: str = ""
    """Comma-separated public URLs of every node (pages may be sent from one to another)."""
    auto_migrate: bool = True
    """Apply migrations at start-up (turn off when several nodes share a database)."""
    log_level: str = "INFO"
    """Python logging level."""

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'mediation.db').resolve()}"

    @property
    def claim_holiday_dates(self) -> frozenset[date]:
        """``claim_holidays`` as dates (ConfigError names a malformed one)."""
        try:
            return frozenset(date.fromisoformat(d.strip()) for d in self.claim_holidays.split(",") if d.strip())
        except ValueError:
            raise ConfigError("claim_holidays must be dates like 2026-10-01, separated by commas") from None

    @property
    def resolved_blob_dir(self) -> Path:
        """The blob folder."""
        return self.blob_dir if self.blob_dir is not None else self.data_dir / "blobs"

    @property
    def resolved_model_dir(self) -> Path:
        """Where bundled models are assembled."""
        return self.model_dir if self.model_dir is not None else self.data_dir / "models"

    @property
    def ice_server_list(self) -> list[dict[str, Any]]:
        """The parsed STUN/TURN list."""
        if not self.ice_servers.strip():
            return []
        try:
            value = json.loads(self.ice_servers)
        except json.JSONDecodeError as exc:
            raise ConfigError("ice_servers must be a JSON list") from exc
        if not isinstance(value, list) or not all(isinstance(v, dict) and "urls" in v for v in value):
            raise ConfigError('ice_servers must be a JSON list of {"urls": ...} objects')
        return value

    @property
    def cluster_url_list(self) -> list[str]:
        """Every node's public URL (this node's included)."""
        urls = [u.strip().rstrip("/") for u in self.cluster_urls.split(",") if u.strip()]
        if urls and self.base_url not in urls:
            urls.append(self.base_url)
        return urls

    @property
    def tls(self) -> bool:
        """Whether HTTPS is configured."""
        return self.tls_cert is not None and self.tls_key is not None

    @property
    def base_url(self) -> str:
        """Where links point."""
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.tls else "http"
        wildcard = self.host in ("0.0.0.0", "::", "127.0.0.1")  # noqa: S104 - a comparison, not a bind
        host = "localhost" if wildcard else self.host
        return f"{scheme}://{host}:{self.port}"

    def signing_key(self) -> bytes:
        """The token key: configured, or read from (or created in) the data folder."""
        if self.secret_key:
            key = self.secret_key.encode("utf-8")
            if len(key) < 32:
                raise ConfigError("MEDIATION_SECRET_KEY must be at least 32 characters")
            return key
        return self._key_file("secret.key")

    def master_key(self) -> bytes:
        """The recordings' master key (32 bytes): configured as hex, or kept in the data folder."""
        if self.recording_master_key:
            try:
                key = bytes.fromhex(self.recording_master_key)
            except ValueError as exc:
                raise ConfigError("MEDIATION_RECORDING_MASTER_KEY must be 64 hex digits") from exc
        else:
            key = bytes.fromhex(self._key_file("master.key").decode("ascii"))
        if len(key) != 32:
            raise ConfigError("MEDIATION_RECORDING_MASTER_KEY must be 64 hex digits")
        return key

    def manifest_key(self) -> bytes:
        """Seed of the server's Ed25519 key that signs recording manifests (kept in the data folder)."""
        return self._key_file("manifest.key")

    def _key_file(self, name: str) -> bytes:
        """A random 256-bit key (hex) in the data folder, created once with mode 0600 (folder 0700)."""
        path = self.data_dir / name
        if path.exists():
            key = path.read_bytes().strip()
            if len(key) < 32:
                raise ConfigError(f"{path} holds a key shorter than 32 bytes")
            return key
        private_data_folder(self.data_dir)
        key = secrets.token_hex(32).encode("ascii")
        write_new_private_file(path, key)  # fsynced with its folder: a crash must not lose a key in use
        return key


def _coerce(name: str, raw: Any, current: Any) -> Any:
    kind = type(current)
    try:
        if name in (
            "blob_dir",
            "tls_cert",
            "tls_key",
            "model_dir",
            "signing_ca_key",
            "signing_ca_cert",
            "signing_tsa_roots",
        ):
            return Path(str(raw)) if raw not in (None, "") else None
        if isinstance(current, bool):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(current, timedelta):
            return timedelta(seconds=float(raw))
        if isinstance(current, Path):
            return Path(str(raw))
        if isinstance(current, float):
            return float(raw)
        if isinstance(current, int):
            return int(raw)
        return kind(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Setting {name!r} has an unusable value") from exc


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings from defaults, a TOML file, the environment and overrides.

    Durations in the file and environment are seconds.
    """
    env = os.environ if environ is None else environ
    settings = Settings()
    names = {f.name for f in fields(Settings)}
    path = config_file or (Path(env["MEDIATION_CONFIG"]) if env.get("MEDIATION_CONFIG") else None)
    values: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"Cannot read configuration file {path}: {exc}") from exc
        section = data.get("mediation", data)
        unknown = set(section) - names
        if unknown:
            raise ConfigError(f"Unknown settings in {path}: {', '.join(sorted(unknown))}")
        values.update(section)
    for name in names:
        key = "MEDIATION_" + name.upper()
        if key in env:
            values[name] = env[key]
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
    coerced = {name: _coerce(name, raw, getattr(settings, name)) for name, raw in values.items()}
    settings = replace(settings, **coerced)
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ConfigError("Set both tls_cert and tls_key, or neither")
    if settings.video_codec not in ("VP8", "H264"):
        raise ConfigError('video_codec must be "VP8" or "H264"')
    settings.ice_server_list  # noqa: B018 - validate at start-up
    if settings.notifier not in ("log", "console"):
        raise ConfigError('notifier must be "log" or "console"')
    if settings.smtp_tls not in ("none", "starttls", "tls"):
        raise ConfigError('smtp_tls must be "none", "starttls" or "tls"')
    if not 1 <= settings.claim_payment_working_days <= 60:
        raise ConfigError("claim_payment_working_days must be between 1 and 60")
    settings.claim_holiday_dates  # noqa: B018 - validate at start-up
    if settings.smtp_timeout <= 0:
        raise ConfigError("smtp_timeout must be more than 0 seconds")
    if settings.sms_gateway_url and not settings.sms_gateway_url.startswith(("https://", "http://")):
        raise ConfigError("sms_gateway_url must be an http:// or https:// URL")
    if settings.sms_gateway_url and not settings.sms_gateway_key:
        raise ConfigError("sms_gateway_url needs sms_gateway_key (the key that signs requests)")
    webhook_urls = [u.strip() for u in settings.webhook_urls.split(",") if u.strip()]
    if not all(u.startswith(("https://", "http://")) for u in webhook_urls):
        raise ConfigError("webhook_urls must be http:// or https:// URLs, separated by commas")
    if webhook_urls and len(settings.webhook_secret) < 32:
        raise ConfigError("webhook_urls need webhook_secret (the key that signs requests), at least 32 characters")
    if settings.webhook_timeout <= 0:
        raise ConfigError("webhook_timeout must be more than 0 seconds")
    feed_urls = [u.strip() for u in settings.feed_urls.split(",") if u.strip()]
    if not all(u.startswith(("https://", "http://")) for u in feed_urls):
        raise ConfigError("feed_urls must be http:// or https:// URLs, separated by commas")
    if feed_urls and len(settings.feed_secret) < 32:
        raise ConfigError("feed_urls need feed_secret (the key that signs requests), at least 32 characters")
    if settings.playback_cache_mb < 0:
        raise ConfigError("playback_cache_mb must be 0 or more")
    if not 0 < settings.deadline_interval <= 3600:
        raise ConfigError("deadline_interval must be more than 0 and at most 3600 seconds")
    if (settings.signing_ca_key is None) != (settings.signing_ca_cert is None):
        raise ConfigError("Set both signing_ca_key and signing_ca_cert, or neither")
    if settings.transcript_engine not in ("whisper", "pocketsphinx", "vosk", "sherpa-onnx", "off"):
        raise ConfigError("transcript_engine must be whisper, pocketsphinx, vosk, sherpa-onnx or off")
    if settings.transcript_engine in ("vosk", "sherpa-onnx") and not settings.transcript_model:
        raise ConfigError(f"transcript_engine {settings.transcript_engine} needs transcript_model (a model folder)")
    if settings.transcript_language not in ("zh", "en"):
        raise ConfigError('transcript_language must be "zh" or "en"')
    if (
        settings.transcript_engine == "pocketsphinx"
        and settings.transcript_language != "en"
        and not (settings.transcript_model)
    ):
        raise ConfigError("The bundled pocketsphinx model is English only: set transcript_language to en")
    if settings.transcript_workers < 1 or settings.transcript_threads < 1:
        raise ConfigError("transcript_workers and transcript_threads must be at least 1")
    if not 1 <= settings.transcript_beam_size <= 10:
        raise ConfigError("transcript_beam_size must be from 1 to 10")
    if settings.sockets_per_participant < 1 or settings.sockets_per_address < 1:
        raise ConfigError("sockets_per_participant and sockets_per_address must be at least 1")
    if settings.socket_recheck_seconds <= 0:
        raise ConfigError("socket_recheck_seconds must be more than 0 seconds")
    if settings.redis_url and not settings.public_url:
        raise ConfigError("Several nodes (redis_url) need public_url set on each node")
    return settings
