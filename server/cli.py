"""The ``mediation`` command: serve, db upgrade, demo, account create, audit verify."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import re
import secrets
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from e_sign.errors import ESignError
from server.app import build_components, serve, utc_now
from server.cases.usecases import NewParticipant
from server.config import Settings, load_settings
from server.domain.organisations import MAX_NAME, Organisation, OrganisationKind
from server.domain.roles import AccountKind, Role
from server.errors import MediationError
from server.identity.access import Principal, new_id
from server.identity.passwords import hash_password
from server.store import db
from server.store.accounts import Account


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "tls_cert": getattr(args, "tls_cert", None),
        "tls_key": getattr(args, "tls_key", None),
        "data_dir": getattr(args, "data_dir", None),
    }
    return load_settings(args.config, overrides=overrides)


def _logging(settings: Settings, command: str) -> None:
    # one-shot commands print their result; their progress lines only matter when asked for
    level = settings.log_level if command == "serve" or "MEDIATION_LOG_LEVEL" in os.environ else "WARNING"
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


PHONE = re.compile(r"^\+?[0-9]{5,20}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


async def _org(settings: Settings, args: argparse.Namespace) -> int:
    """``org add`` and ``org list``."""
    from server.organisations.store import OrganisationStore

    await db.upgrade(settings.resolved_database_url)
    parts = build_components(settings)
    try:
        store = OrganisationStore(parts.repo.engine)
        if args.org_command == "add":
            name = args.name.strip()
            if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
                print(f"error: --name takes 1 to {MAX_NAME} printable characters", file=sys.stderr)
                return 2
            organisation = Organisation(new_id(), OrganisationKind(args.kind), name, utc_now(), args.region.strip())
            await store.create(organisation)
            print(f"recorded {organisation.kind.value} {organisation.name} ({organisation.id})")
            return 0
        for organisation in await store.all():
            print(f"{organisation.id}  {organisation.kind.value:<20} {organisation.name}")
        return 0
    finally:
        await parts.repo.engine.dispose()


async def _intake_key(settings: Settings, args: argparse.Namespace) -> int:
    """``intake-key create``, ``revoke`` and ``list``: a police agency's keys for the intake API."""
    from server.identity.keys import INTAKE_KEYS, derive_key
    from server.intake.store import IntakeStore
    from server.intake.usecases import AgencyKeys
    from server.organisations.store import OrganisationStore

    await db.upgrade(settings.resolved_database_url)
    parts = build_components(settings)
    try:
        keys = AgencyKeys(
            OrganisationStore(parts.repo.engine),
            IntakeStore(parts.repo.engine),
            derive_key(settings.signing_key(), INTAKE_KEYS),
        )
        if args.intake_command == "create":
            key_id, secret = await keys.create_key(args.organisation, utc_now())
            print(f"key id: {key_id}\nsecret: {secret}\n(the secret is shown once: give it to the agency now)")
        elif args.intake_command == "revoke":
            await keys.revoke_key(args.key_id, utc_now())
            print(f"revoked intake key {args.key_id}")
        else:
            for key in await keys.keys(args.organisation):
                state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
                print(f"{key.id}  {key.created_at:%Y-%m-%d %H:%M}  {state}")
        return 0
    finally:
        await parts.repo.engine.dispose()


async def _create_account(
    settings: Settings,
    username: str,
    password: str,
    kind: AccountKind,
    name: str,
    org: str,
    phone: str | None = None,
    email: str | None = None,
) -> Account:
    await db.upgrade(settings.resolved_database_url)
    parts = build_components(settings)
    try:
        from server.domain.organisations import check_staff_kind
        from server.organisations.store import OrganisationStore

        existing = await OrganisationStore(parts.repo.engine).by_name(org.strip())
        if existing is not None:
            check_staff_kind(existing, kind)
        account = Account(
            id=new_id(),
            username=username,
            display_name=name,
            kind=kind,
            organization=org,
            password_hash=await asyncio.to_thread(hash_password, password),
            created_at=utc_now(),
            phone=phone,
            email=email,
        )
        await parts.accounts.create_account(account)
        return account
    finally:
        await parts.repo.engine.dispose()


async def _disable_account(settings: Settings, username: str) -> Account:
    """Disable an account; with Redis configured, the servers end its live connections at once
    (otherwise within ``socket_recheck_seconds``)."""
    parts = build_components(settings)
    try:
        return await parts.auth.disable_account(username, utc_now())
    finally:
        await parts.auth.revocations.close()
        await parts.repo.engine.dispose()


async def _demo(settings: Settings) -> dict[str, object]:
    await db.upgrade(settings.resolved_database_url)
    username = f"demo-mediator-{secrets.token_hex(2)}"
    password = secrets.token_urlsafe(12)
    parts = build_components(settings)
    try:
        now = utc_now()
        account = Account(
            id=new_id(),
            username=username,
            display_name="王调解员",
            kind=AccountKind.MEDIATOR,
            organization="示范区人民调解委员会",
            password_hash=await asyncio.to_thread(hash_password, password),
            created_at=now,
        )
        await parts.accounts.create_account(account)
        issued, _ = await parts.auth.login(username, password, now)
        mediator = Principal(subject_id=account.id, token_id=issued.token_id, account_kind=AccountKind.MEDIATOR)
        loaded = await parts.service.create_case(mediator, "traffic_accident", "张某与李某机动车交通事故责任纠纷", now)
        case_id = loaded.case.id
        people = [
            NewParticipant(Role.APPLICANT, "张三", phone="13800000001", id_number="110101199001011234"),
            NewParticipant(Role.RESPONDENT, "李四", phone="13800000002", id_number="110101198505052345"),
            NewParticipant(
                Role.INSURER, "示范财产保险公司 赵经理", phone="13800000003", email="claims@insurer.example"
            ),
        ]
        links: dict[str, str] = {}
        for person in people:
            added = await parts.service.add_participant(mediator, case_id, person, now)
            assert added.link is not None
            links[person.role.value] = f"{settings.base_url}/join#token={added.link.token}"
        await parts.service.schedule_session(mediator, case_id, now + timedelta(hours=1), timedelta(hours=1), now)
        return {
            "case_id": case_id,
            "case_number": loaded.case.number,
            "mediator": {"username": username, "password": password, "token": issued.token},
            "links": links,
        }
    finally:
        await parts.repo.engine.dispose()


async def _verify_recording(settings: Settings, case_id: str) -> int:
    from recording.archive import RecordingArchive
    from recording.vault import Vault

    parts = build_components(settings)
    try:
        archive = RecordingArchive(
            parts.repo, parts.service.blobs, Vault(parts.keys, settings.master_key()), settings.manifest_key()
        )
        verdicts = await archive.verify(case_id, datetime.now(UTC))
    finally:
        await parts.repo.engine.dispose()
    if not verdicts:
        print("no recorded session")
    for v in verdicts:
        print(v.describe())
        for problem in v.problems:
            print(f"  {problem}")
    return 0 if all(v.ok for v in verdicts) else 1


async def _verify(settings: Settings, case_id: str) -> int:
    parts = build_components(settings)
    try:
        verdict = await parts.repo.verify_audit(case_id)
    finally:
        await parts.repo.engine.dispose()
    print(verdict.describe())
    return 0 if verdict.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mediation`` command."""
    parser = argparse.ArgumentParser(prog="mediation", description="Court-connected online mediation server")
    parser.add_argument("--config", type=Path, default=None, help="TOML settings file (or MEDIATION_CONFIG)")
    parser.add_argument("--data-dir", type=Path, default=None, help="data folder (default ./var)")
    sub = parser.add_subparsers(dest="command", required=True)

    p_serve = sub.add_parser("serve", help="run the HTTP server")
    p_serve.add_argument("--host")
    p_serve.add_argument("--port", type=int)
    p_serve.add_argument(
        "--tls-cert", type=Path, help="PEM certificate chain (phones need HTTPS for camera and microphone)"
    )
    p_serve.add_argument("--tls-key", type=Path, help="PEM private key")

    p_db = sub.add_parser("db", help="database maintenance")
    db_sub = p_db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply migrations")

    p_demo = sub.add_parser("demo", help="create a sample traffic-accident case and print join links")
    p_demo.add_argument("--json", action="store_true", help="print JSON")

    p_org = sub.add_parser("org", help="manage organisations (courts, mediation organisations…)")
    org_sub = p_org.add_subparsers(dest="org_command", required=True)
    p_oadd = org_sub.add_parser("add", help="record an organisation")
    p_oadd.add_argument("--kind", choices=[k.value for k in OrganisationKind], required=True)
    p_oadd.add_argument("--name", required=True, help="full name, e.g. 示范区人民法院")
    p_oadd.add_argument("--region", default="", help="administrative division code or name")
    org_sub.add_parser("list", help="list the organisations")

    p_acct = sub.add_parser(
        "account", help="manage staff accounts (an organisation's administrators can also use /staff)"
    )
    acct_sub = p_acct.add_subparsers(dest="account_command", required=True)
    p_create = acct_sub.add_parser("create", help="create an account (password from MEDIATION_PASSWORD or a prompt)")
    p_create.add_argument("--username", required=True)
    p_create.add_argument("--kind", choices=[k.value for k in AccountKind], required=True)
    p_create.add_argument("--name", required=True, help="display name")
    p_create.add_argument(
        "--organization", default="", help="its organisation's name (recorded on the spot if new: see `org add`)"
    )
    p_create.add_argument("--phone", help="mobile number for one-time codes when signing")
    p_create.add_argument("--email", help="e-mail address for one-time codes (if no phone)")
    p_disable = acct_sub.add_parser("disable", help="disable an account: its logins and live connections end")
    p_disable.add_argument("username")

    p_intake = sub.add_parser("intake-key", help="police agencies' keys for the intake API (HMAC-signed requests)")
    intake_sub = p_intake.add_subparsers(dest="intake_command", required=True)
    p_icreate = intake_sub.add_parser("create", help="make a key for a police agency: its secret is shown once")
    p_icreate.add_argument("--organisation", required=True, help="the agency's organisation id (see `org list`)")
    p_irevoke = intake_sub.add_parser("revoke", help="revoke a key: it never signs again")
    p_irevoke.add_argument("key_id")
    p_ilist = intake_sub.add_parser("list", help="an agency's keys (ids only)")
    p_ilist.add_argument("--organisation", required=True)

    p_audit = sub.add_parser("audit", help="audit trail tools")
    audit_sub = p_audit.add_subparsers(dest="audit_command", required=True)
    p_verify = audit_sub.add_parser("verify", help="verify a case's hash chain")
    p_verify.add_argument("case_id")

    p_rec = sub.add_parser("recording", help="recording tools")
    rec_sub = p_rec.add_subparsers(dest="recording_command", required=True)
    p_rverify = rec_sub.add_parser("verify", help="verify a case's recordings (signatures, seals, hashes)")
    p_rverify.add_argument("case_id")

    p_sig = sub.add_parser("signatures", help="signed PDF tools")
    sig_sub = p_sig.add_subparsers(dest="signatures_command", required=True)
    p_sverify = sig_sub.add_parser("verify", help="verify every signature of a PDF against the platform CA")
    p_sverify.add_argument("pdf", type=Path)
    p_sverify.add_argument("--json", action="store_true", help="print the report as JSON")

    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
        _logging(settings, args.command)
        if args.command == "serve":
            serve(settings)
            return 0
        if args.command == "db":
            db.upgrade_sync(settings.resolved_database_url)
            print("database is up to date")
            return 0
        if args.command == "demo":
            result = asyncio.run(_demo(settings))
            if args.json:
                print(json.dumps(result, ensure_ascii=False))
            else:
                _print_demo(result)
            return 0
        if args.command == "org":
            return asyncio.run(_org(settings, args))
        if args.command == "account" and args.account_command == "disable":
            account = asyncio.run(_disable_account(settings, args.username))
            print(f"disabled {account.kind.value} account {account.username} ({account.id})")
            return 0
        if args.command == "account":
            password = os.environ.get("MEDIATION_PASSWORD") or getpass.getpass("Password: ")
            if len(password) < 10:
                print("error: choose a password of at least 10 characters", file=sys.stderr)
                return 2
            if (args.phone and not PHONE.match(args.phone)) or (args.email and not EMAIL.match(args.email)):
                print("error: --phone takes digits (an optional +), --email an address", file=sys.stderr)
                return 2
            account = asyncio.run(
                _create_account(
                    settings,
                    args.username,
                    password,
                    AccountKind(args.kind),
                    args.name,
                    args.organization,
                    args.phone,
                    args.email,
                )
            )
            print(f"created {account.kind.value} account {account.username} ({account.id})")
            return 0
        if args.command == "intake-key":
            return asyncio.run(_intake_key(settings, args))
        if args.command == "audit":
            return asyncio.run(_verify(settings, args.case_id))
        if args.command == "recording":
            return asyncio.run(_verify_recording(settings, args.case_id))
        if args.command == "signatures":
            return _verify_signatures(settings, args.pdf, args.json)
    except (MediationError, ESignError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 2


def _verify_signatures(settings: Settings, path: Path, as_json: bool) -> int:
    """Print a report per signature; exit 0 only if every signature holds."""
    from e_sign.verify import verify_pdf
    from server.app import signing_keys, utc_now
    from server.signing.endpoints import report_view

    try:
        pdf = path.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    report = verify_pdf(pdf, signing_keys(settings, utc_now).trust_roots)
    if as_json:
        print(json.dumps(report_view(report), ensure_ascii=False, indent=1))
    else:
        for check in report.signatures:
            stamp = check.timestamp_time.isoformat() if check.timestamp_time else "no timestamp"
            print(f"{'valid  ' if check.ok else 'INVALID'} {check.field_name}: {check.signer_name} ({stamp})")
        for line in report.reasons:
            print(f"  {line}")
        print("every signature holds" if report.ok else "the document does not verify")
    return 0 if report.ok else 1


def _print_demo(result: dict[str, object]) -> None:
    links = result["links"]
    mediator = result["mediator"]
    assert isinstance(links, dict) and isinstance(mediator, dict)
    print(f"Demo case {result['case_number']} ({result['case_id']})")
    print(f"Mediator login: {mediator['username']} / {mediator['password']}")
    print(f"Mediator API token: {mediator['token']}")
    print("Join links (personal: give each only to its owner):")
    for role, link in links.items():
        print(f"  {role:<11} {link}")
    print(
        "Try: curl -H 'Authorization: Bearer <token after #token=>' "
        + str(links["applicant"]).split("/join")[0]
        + "/api/v1/me"
    )


if __name__ == "__main__":
    sys.exit(main())
