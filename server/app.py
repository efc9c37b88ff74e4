"""Assemble the aiohttp application from settings: store, identity, use-cases, routes, pages."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from rooms.service import RoomService
from server import endpoints
from server.cases.endpoints import SERVICE
from server.cases.usecases import CaseService
from server.config import Settings
from server.errors import ConfigError
from server.http import kit
from server.http.problems import problem_middleware
from server.identity.access import Authenticator
from server.identity.keys import APPLICATION_CODES, SIGNING_CODES, TOKENS, derive_key
from server.identity.tokens import TokenSigner
from server.notify import Notifier
from server.outbound.claims import ClaimDeadlines
from server.outbound.deadlines import DeadlineScheduler
from server.outbound.delivery import DeliveryWorker
from server.outbound.feed import FEED_SENDER, FeedDispatcher, poke_feed_after_write, write_feed_events
from server.outbound.webhooks import WEBHOOKS, WebhookDispatcher, parse_urls, poke_after_write
from server.record.playback import ARCHIVE
from server.store import db
from server.store.accounts import AccountStore
from server.store.blobs import LocalBlobStore
from server.store.files import private_data_folder
from server.store.keys import CaseKeyStore
from server.store.record import RecordStore
from server.store.repository import CaseRepository
from signaling.server import SignalingServer
from web import add_pages

ROOMS: web.AppKey[RoomService] = web.AppKey("rooms", RoomService)
NOTIFIER: web.AppKey[Notifier] = web.AppKey("notifier", Notifier)
"""How people are reached (tests swap in an outbox)."""
SIGNALING: web.AppKey[SignalingServer] = web.AppKey("signaling", SignalingServer)
DELIVERIES: web.AppKey[DeliveryWorker] = web.AppKey("deliveries", DeliveryWorker)
"""The delivery worker of electronic service (tests run its rounds by hand too)."""
DEADLINES: web.AppKey[DeadlineScheduler] = web.AppKey("deadlines", DeadlineScheduler)
"""The deadline scheduler of the life cycle (``server.outbound.deadlines``; tests poke it after moving the clock)."""
CLAIM_DEADLINES: web.AppKey[ClaimDeadlines] = web.AppKey("claim_deadlines", ClaimDeadlines)
"""The overdue-claims job (``server.outbound.claims``; tests run its rounds by hand)."""

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The one place the server reads the clock."""
    return datetime.now(UTC)


@dataclass
class Components:
    """The assembled parts, for the CLI and tests that need them outside HTTP."""

    repo: CaseRepository
    """The case store."""
    accounts: AccountStore
    """Accounts and token records."""
    records: RecordStore
    """Chat, transcript lines and record edits."""
    keys: CaseKeyStore
    """The cases' wrapped data keys."""
    auth: Authenticator
    """Credentials."""
    service: CaseService
    """Use-cases."""


PARAMETER_LOGGERS = ("aiosqlite", "sqlalchemy.engine", "sqlalchemy.pool")
"""Third-party loggers that print SQL parameters (personal data) below INFO/WARNING."""


def quiet_parameter_loggers() -> None:
    """Keep SQL parameters out of the logs whatever level the operator chooses."""
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger("sqlalchemy.pool").setLevel(logging.WARNING)


def build_components(settings: Settings) -> Components:
    """Create the stores, authenticator and use-case service for ``settings`` (the stores share one engine)."""
    quiet_parameter_loggers()
    private_data_folder(settings.data_dir)  # 0700: it holds the database, keys and blobs
    engine = db.create_engine(settings.resolved_database_url)
    repo = CaseRepository(engine)
    repo.outbox_writers = (write_feed_events,)  # the aggregation feed's events, in each write's transaction
    accounts = AccountStore(engine)
    records = RecordStore(repo)
    revocations = None
    if settings.redis_url:  # several nodes: a revocation reaches the sockets on every node
        from server.identity.revocation import RedisRevocations

        revocations = RedisRevocations(settings.redis_url)
    secret = settings.signing_key()  # never a key itself: each use derives its own (server.identity.keys)
    signer = TokenSigner(derive_key(secret, TOKENS), also_accept=(secret,))  # links sent before the split
    auth = Authenticator(repo, accounts, signer, settings.join_link_ttl, settings.session_ttl, revocations)
    blobs = LocalBlobStore(settings.resolved_blob_dir)
    service = CaseService(repo, auth, blobs, accounts, records)
    service.period = settings.mediation_period
    return Components(repo, accounts, records, CaseKeyStore(engine), auth, service)


@web.middleware
async def security_headers(request: web.Request, handler: kit.Handler) -> web.StreamResponse:
    """Headers every response carries."""
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def build_app(settings: Settings, clock: Callable[[], datetime] = utc_now) -> web.Application:
    """The whole application; migrations run at start-up when ``auto_migrate`` is on."""
    components = build_components(settings)
    app = web.Application(
        middlewares=[security_headers, problem_middleware],
        client_max_size=settings.max_document_bytes + 1024,
    )
    app[SERVICE] = components.service
    app[kit.AUTH] = components.auth
    app[kit.CLOCK] = clock
    app[kit.SETTINGS_MAX_BODY] = settings.max_body_bytes
    app[kit.SETTINGS_MAX_DOC] = settings.max_document_bytes
    app[kit.BASE_URL] = settings.base_url
    from server.organisations.endpoints import ORGANISATIONS
    from server.organisations.store import OrganisationStore
    from server.organisations.usecases import OrganisationService

    app[ORGANISATIONS] = OrganisationService(
        OrganisationStore(components.repo.engine), components.accounts, components.auth
    )
    from server.rosters.endpoints import ROSTERS
    from server.rosters.store import RosterStore
    from server.rosters.usecases import RosterService

    app[ROSTERS] = RosterService(
        RosterStore(components.repo.engine), app[ORGANISATIONS].organisations, components.accounts
    )
    from server.assessment.endpoints import ASSESSMENT
    from server.assessment.store import RatingStore
    from server.assessment.usecases import AssessmentService

    app[ASSESSMENT] = AssessmentService(components.service, RatingStore(components.repo.engine), app[ORGANISATIONS])
    from server.statistics.endpoints import STATISTICS
    from server.statistics.store import StatisticsStore
    from server.statistics.usecases import StatisticsService

    app[STATISTICS] = StatisticsService(
        StatisticsStore(components.repo.engine), components.accounts, app[ORGANISATIONS].organisations
    )
    from server.referrals.endpoints import REFERRALS
    from server.referrals.store import ReferralStore
    from server.referrals.usecases import ReferralService
    from server.rosters.store import RosterStore

    app[REFERRALS] = ReferralService(
        components.service,
        components.accounts,
        app[ORGANISATIONS].organisations,
        RosterStore(components.repo.engine),
        ReferralStore(components.repo.engine),
    )
    endpoints.add_routes(app)
    from server.cases.pages import PAGES
    from server.documents.pages import PageImages

    app[PAGES] = PageImages()
    add_pages(app, connect_origins=settings.cluster_url_list)
    _add_live_rooms(app, settings, components, clock)
    from server.export.endpoints import EXPORTER
    from server.export.usecases import CaseExporter

    app[EXPORTER] = CaseExporter(components.service, clock)
    from server.confirmation.endpoints import CONFIRMATIONS
    from server.e_service.endpoints import SERVING

    app[EXPORTER].sections += [app[SERVING].export_section, app[CONFIRMATIONS].export_section]
    if settings.webhook_urls:
        secret = settings.webhook_secret.encode("utf-8")
        urls = parse_urls(settings.webhook_urls)
        app[WEBHOOKS] = WebhookDispatcher(components.repo.engine, urls, secret, clock, settings.webhook_timeout)
        app.on_response_prepare.append(poke_after_write)
    if settings.feed_urls:
        feed_urls, feed_secret = parse_urls(settings.feed_urls), settings.feed_secret.encode("utf-8")
        engine, timeout = components.repo.engine, settings.webhook_timeout
        app[FEED_SENDER] = FeedDispatcher(engine, feed_urls, feed_secret, clock, timeout)
        app.on_response_prepare.append(poke_feed_after_write)
    from server.outbound.deadlines import DeadlineScheduler

    app[DEADLINES] = DeadlineScheduler(components.repo, clock, interval=settings.deadline_interval)
    from server.referrals.reminders import PeriodReminders

    app[DEADLINES].listeners.append(PeriodReminders(components.accounts, app[NOTIFIER]))  # the period's end
    from server.claims.endpoints import CLAIMS
    from server.claims.store import ClaimStore
    from server.claims.usecases import ClaimService, ClaimSettings
    from server.outbound.claims import ClaimDeadlines

    claim_settings = ClaimSettings(settings.claim_payment_working_days, settings.claim_holiday_dates)
    app[CLAIMS] = ClaimService(  # one-click claims (一键理赔) and the insurer's desk (issue 15)
        components.service,
        components.accounts,
        app[ORGANISATIONS].organisations,
        app[REFERRALS],
        ClaimStore(components.repo),
        claim_settings,
    )
    app[CLAIM_DEADLINES] = ClaimDeadlines(app[CLAIMS].store, components.accounts, app[NOTIFIER], clock)

    async def on_startup(_app: web.Application) -> None:
        if settings.auto_migrate:
            await db.upgrade(settings.resolved_database_url)
        await _seal_interrupted_recordings(app, clock)  # before listening: no room of this node is live
        if WEBHOOKS in app:
            await app[WEBHOOKS].start()  # after the migrations: it reads the outbox
        if FEED_SENDER in app:
            await app[FEED_SENDER].start()
        if (pool := app[kit.TRANSCRIBER]) is not None:
            await pool.start()  # workers load the model in the background
        app[DELIVERIES].start()
        app[DEADLINES].start()  # after the migrations; its first round issues what passed while down
        app[CLAIM_DEADLINES].start()  # overdue claims

    async def on_shutdown(_app: web.Application) -> None:
        if WEBHOOKS in app:
            await app[WEBHOOKS].close()
        if FEED_SENDER in app:
            await app[FEED_SENDER].close()
        await app[DELIVERIES].close()
        await app[DEADLINES].close()
        await app[CLAIM_DEADLINES].close()
        await app[ROOMS].close_all()
        if (pool := app[kit.TRANSCRIBER]) is not None:
            await pool.close()

    async def on_cleanup(_app: web.Application) -> None:
        await components.repo.engine.dispose()

    app.on_shutdown.append(on_shutdown)

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


async def _seal_interrupted_recordings(app: web.Application, clock: Callable[[], datetime]) -> None:
    """Write the manifests a crash left unwritten (``recording.recovery``); never stops the start."""
    from recording.recovery import seal_interrupted

    try:
        await seal_interrupted(app[ARCHIVE], clock(), app[ROOMS].directory.hosted_elsewhere)
    except Exception:
        logger.exception("sealing the recordings of interrupted sessions failed")


def _add_live_rooms(
    app: web.Application, settings: Settings, components: Components, clock: Callable[[], datetime]
) -> None:
    """Live rooms: the aiortc forwarder and socket.io signaling (imported here: the edges call inward)."""
    from rooms.service import RoomService
    from rooms.sfu import MediaConfig, aiortc_factory
    from signaling.server import SignalingServer, SocketLimits

    ice = settings.ice_server_list
    from recording.archive import RecordingArchive
    from recording.evidence import EvidenceStore
    from recording.segments import Recorders
    from recording.vault import Vault

    media = MediaConfig(
        ice_servers=tuple(ice),
        video_codec=settings.video_codec,
        stall_after=settings.media_stall_seconds,
        announce=tuple(a.strip() for a in settings.media_addresses.split(",") if a.strip()),
        segment_seconds=settings.recording_segment_seconds,
    )
    directory = None
    if settings.redis_url:
        from rooms.directory import RedisDirectory

        directory = RedisDirectory(settings.redis_url, settings.base_url)
    transcriber = None
    if settings.transcript_engine != "off":
        from recording.asr.engines import EngineSpec
        from recording.asr.pool import TranscriptionPool

        spec = EngineSpec(
            name=settings.transcript_engine,
            model=settings.transcript_model,
            cache_dir=str(settings.resolved_model_dir),
            threads=settings.transcript_threads,
            beam_size=settings.transcript_beam_size,
        )
        transcriber = TranscriptionPool(spec, settings.transcript_workers, settings.transcript_language, clock=clock)
    app[kit.TRANSCRIBER] = transcriber
    vault = Vault(components.keys, settings.master_key())
    archive = RecordingArchive(components.repo, components.service.blobs, vault, settings.manifest_key())
    # recording and the live transcript attach to the rooms through rooms.ports, with this clock
    rooms = RoomService(
        components.service,
        aiortc_factory(media, Recorders(clock), transcriber),
        clock,
        ice_servers=ice,
        directory=directory,
        recordings=EvidenceStore(components.repo, components.service.blobs, vault, archive),
    )
    cluster = settings.cluster_url_list
    signaling = SignalingServer(
        rooms,
        components.auth,
        clock,
        allowed_origins=cluster or None,
        limits=SocketLimits(
            settings.sockets_per_participant, settings.sockets_per_address, settings.socket_recheck_seconds
        ),
    )
    signaling.attach(app)

    async def start_signaling(_app: web.Application) -> None:
        await signaling.start()

    async def close_signaling(_app: web.Application) -> None:
        await signaling.close()

    app.on_startup.append(start_signaling)
    app.on_shutdown.append(close_signaling)
    app[ROOMS] = rooms
    app[SIGNALING] = signaling
    app[kit.RECORDINGS] = archive
    app[ARCHIVE] = archive
    from recording.record import RecordService
    from recording.record_pdf import render_record
    from server.record.transcript import RECORDS

    app[RECORDS] = RecordService(components.service, render_record)
    from server.agreement.endpoints import AGREEMENTS
    from server.agreement.store import AgreementStore
    from server.agreement.usecases import AgreementService
    from server.record.playback import PLAYBACK_PARTIES

    app[AGREEMENTS] = AgreementService(components.service, AgreementStore(components.repo))
    from server.signing.endpoints import SIGNING

    app[SIGNING] = signing_keys(settings, clock)
    from server.failure.endpoints import FAILURES
    from server.failure.store import FactStore
    from server.failure.usecases import FailureService

    app[FAILURES] = FailureService(components.service, FactStore(components.repo), app[SIGNING])
    from server.relief.endpoints import RELIEF
    from server.relief.store import ReliefStore
    from server.relief.usecases import ReliefService

    app[RELIEF] = ReliefService(components.service, ReliefStore(components.repo))  # relief fund advances (issue 15)
    from server.notify import build_notifier
    from server.signing.endpoints import SIGNINGS
    from server.signing.store import SigningCodeStore
    from server.signing.usecases import SigningService

    notifier: Notifier = build_notifier(settings)
    app[NOTIFIER] = notifier
    from server.cases.endpoints import INVITATIONS
    from server.cases.invitations import Invitations

    app[INVITATIONS] = Invitations(components.service, notifier, settings.base_url)
    code_key = derive_key(settings.signing_key(), SIGNING_CODES)
    codes = SigningCodeStore(components.repo.engine)
    app[SIGNINGS] = SigningService(components.service, app[SIGNING], notifier, code_key, codes)
    from server.referrals.application_endpoints import APPLICATIONS
    from server.referrals.application_store import ApplicationStore
    from server.referrals.applications import PublicApplications
    from server.referrals.endpoints import REFERRALS

    app[APPLICATIONS] = PublicApplications(  # a party's own application from /apply, with a key of its own
        app[REFERRALS],
        components.auth,
        ApplicationStore(components.repo.engine),
        notifier,
        derive_key(settings.signing_key(), APPLICATION_CODES),
        settings.base_url,
    )
    from server.identity.keys import INTAKE_KEYS
    from server.intake.endpoints import INTAKE
    from server.intake.store import IntakeStore
    from server.intake.usecases import IntakeService
    from server.organisations.store import OrganisationStore as IntakeAgencies

    app[INTAKE] = IntakeService(  # cases from the police's systems, HMAC-signed per agency (issue 15)
        app[REFERRALS],
        IntakeAgencies(components.repo.engine),
        IntakeStore(components.repo.engine),
        derive_key(settings.signing_key(), INTAKE_KEYS),
    )
    rooms.vocabulary = app[INTAKE].spoken_words  # the live transcript leans towards the finding's names and places
    from server.identity.keys import SCENE_CODES
    from server.organisations.store import OrganisationStore
    from server.scene.endpoints import SCENES
    from server.scene.store import SceneStore
    from server.scene.usecases import SceneService

    app[SCENES] = SceneService(  # scene reports (快处快赔): the drivers' phones and the police desk
        SceneStore(components.repo.engine),
        components.auth,
        components.accounts,
        OrganisationStore(components.repo.engine),
        components.service.blobs,
        derive_key(settings.signing_key(), SCENE_CODES),
        settings.base_url,
    )
    from server.identity.keys import FINDING_CODES
    from server.scene.finding_endpoints import FINDING_ACCESS, FINDINGS
    from server.scene.finding_signing import FindingService, SceneReports
    from server.scene.finding_store import FindingStore

    app[FINDING_ACCESS] = SceneReports(app[SCENES], components.accounts, app[SCENES].organisations)
    app[FINDINGS] = FindingService(  # the electronic accident finding both drivers sign (issue 15)
        app[SCENES],
        app[FINDING_ACCESS],
        FindingStore(components.repo.engine),
        components.service.blobs,
        app[SIGNING],
        app[NOTIFIER],
        derive_key(settings.signing_key(), FINDING_CODES),
    )
    from server.scene.endpoints import SCENE_MEDIATION
    from server.scene.mediation import SceneMediation

    app[SCENE_MEDIATION] = SceneMediation(  # a signed scene report the drivers want mediated becomes a case (H8)
        app[SCENES],
        app[REFERRALS],
        app[SCENES].organisations,
        app[FINDINGS].store,
        components.service.blobs,
        components.auth,
        app[NOTIFIER],
        settings.base_url,
    )
    from server.e_service.endpoints import SERVING
    from server.e_service.store import ServiceStore
    from server.e_service.usecases import ServingService
    from server.outbound.delivery import DeliveryWorker

    serving = ServingService(
        components.service,
        ServiceStore(components.repo.engine),
        notifier,
        settings.base_url,
        app[SIGNING],
        sms_receipts=settings.sms_receipts,
        sms_key=settings.sms_gateway_key.encode("utf-8"),
    )
    worker = DeliveryWorker(serving, clock)
    serving.poke = worker.poke
    app[SERVING] = serving
    app[DELIVERIES] = worker
    from server.e_service.address_store import AddressStore
    from server.e_service.addresses import ServiceAddresses
    from server.e_service.endpoints import ADDRESSES

    app[ADDRESSES] = ServiceAddresses(serving, AddressStore(components.repo.engine))
    from server.confirmation.endpoints import CONFIRMATIONS
    from server.confirmation.store import ConfirmationStore
    from server.confirmation.usecases import ConfirmationService

    app[CONFIRMATIONS] = ConfirmationService(
        components.service, ConfirmationStore(components.repo.engine), serving, app[SIGNING]
    )
    from server.appraisal.endpoints import APPRAISALS
    from server.appraisal.store import AppraisalStore
    from server.appraisal.usecases import AppraisalService

    app[APPRAISALS] = AppraisalService(components.service, AppraisalStore(components.repo), serving, app[SIGNING])

    app[PLAYBACK_PARTIES] = settings.playback_parties
    if settings.playback_cache_mb > 0:
        from recording.clipcache import ClipCache
        from server.record.playback import CLIP_CACHE

        clips = app[CLIP_CACHE] = ClipCache(settings.playback_cache_mb * 1024 * 1024)

        async def drop_clips(_app: web.Application) -> None:
            await clips.close()

        app.on_cleanup.append(drop_clips)


def signing_keys(settings: Settings, clock: Callable[[], datetime]) -> Any:
    """The platform's signing CA (configured, or generated once in the data folder) and its TSA."""
    from e_sign.ca import PlatformCA
    from e_sign.tsa import TimestampAuthority
    from server.signing.usecases import Keys

    folder = settings.data_dir / "signing"
    ca = PlatformCA.load_or_create(
        folder, clock(), key_path=settings.signing_ca_key, cert_path=settings.signing_ca_cert
    )
    roots: tuple[Any, ...] = ()
    if settings.signing_tsa_roots is not None:
        from cryptography import x509

        try:
            roots = tuple(x509.load_pem_x509_certificates(settings.signing_tsa_roots.read_bytes()))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"signing_tsa_roots: cannot read certificates from {settings.signing_tsa_roots}") from exc
    if settings.signing_tsa_url and not settings.signing_tsa_url.startswith(("http://", "https://")):
        raise ConfigError("signing_tsa_url must be an http:// or https:// URL")
    return Keys(
        ca,
        TimestampAuthority.load_or_create(folder, ca, clock),
        tsa_url=settings.signing_tsa_url,
        tsa_roots=roots,
        courts_dir=settings.data_dir / "courts",
    )


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A server TLS context when a certificate and key are configured."""
    if not settings.tls:
        return None
    assert settings.tls_cert is not None and settings.tls_key is not None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(settings.tls_cert, settings.tls_key)
    return ctx


def serve(settings: Settings) -> None:
    """Run the server until interrupted."""
    app = build_app(settings)
    logger.info(
        "serving on %s (database: %s)",
        settings.base_url,
        "sqlite" if db.is_sqlite(settings.resolved_database_url) else "external",
    )
    web.run_app(app, host=settings.host, port=settings.port, ssl_context=ssl_context(settings), print=None)
