"""Endpoints of electronic service: consent, serving, following it, retrying, proofs of service,
the party's inbox, and the recipient's personal link (``/api/v1/served``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import ConfigDict, Field, StringConstraints, ValidationError

from server.cases.endpoints import DOCUMENT_MEDIA_TYPES
from server.cases.pages import Loader, PageQuery, PagesView, layout_response, page_response
from server.cases.usecases import document_view
from server.e_service.addresses import ACKNOWLEDGEMENT, NOTICE, AddressForm, ServiceAddresses
from server.e_service.usecases import ServingService
from server.errors import InvalidCommand, NotFound, Unauthenticated
from server.http import schemas as s
from server.http.kit import (
    _CASE,
    API,
    Endpoint,
    body,
    case_id,
    now,
    principal,
    query,
    raw_body,
    respond,
)
from server.store.repository import DocumentRecord

SERVING: web.AppKey[ServingService] = web.AppKey("serving", ServingService)
MAX_RECEIPT = 4096


class ConsentRequest(s.Strict):
    """The channels a party accepts electronic service through (empty: consent withdrawn)."""

    channels: list[Literal["email", "sms", "inbox"]] = Field(max_length=3)


class ServeRequest(s.Strict):
    """Serve a document of the case."""

    document_id: s.Uuid
    recipients: list[s.Uuid] | None = Field(default=None, max_length=20, description="Default: every party")
    deadline_hours: s.Count = Field(default=72, ge=1, le=720)


class RetryRequest(s.Strict):
    """Try the flagged or failed recipients again."""

    deadline_hours: s.Count = Field(default=72, ge=1, le=720)


class SmsReceipt(s.Strict):
    """The gateway's report on one message (signed like the platform's own requests to it)."""

    reference: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    status: Literal["delivered", "failed"]
    error: str = Field(default="", max_length=100)


class ReceiptView(s.Open):
    status: str


class DownloadQuery(s.Strict):
    """Whether this read is a download (recorded once)."""

    model_config = ConfigDict(extra="forbid", strict=False)
    download: bool = False


class ConsentView(s.Open):
    participant_id: str
    channels: list[str]
    at: str


class ConsentsView(s.Open):
    consents: list[dict[str, Any]]


class ServiceView(s.Open):
    id: str
    document_id: str
    purpose: str
    title: str
    started_at: str
    deadline: str
    recipients: list[dict[str, Any]]


class ServicesView(s.Open):
    services: list[dict[str, Any]]


class ServedView(s.Open):
    case_number: str
    case_title: str
    service_id: str
    title: str
    served_at: str
    effective_at: str | None
    document: dict[str, Any]


def _sid(request: web.Request) -> str:
    raw = request.match_info["service_id"]
    if len(raw) != 36:
        raise NotFound("No such service")
    return raw


async def consent(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ConsentRequest)
    return respond(await request.app[SERVING].consent(who, case_id(request), list(req.channels), now(request)), 201)


async def consents(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond({"consents": await request.app[SERVING].consents(who, case_id(request))})


async def serve(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ServeRequest)
    out = await request.app[SERVING].serve(
        who, case_id(request), req.document_id, req.recipients, req.deadline_hours, now(request)
    )
    return respond(out, 201)


async def services(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond({"services": await request.app[SERVING].services(who, case_id(request))})


async def retry(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, RetryRequest)
    out = await request.app[SERVING].retry(who, case_id(request), _sid(request), req.deadline_hours, now(request))
    return respond(out)


async def proof(request: web.Request) -> web.Response:
    who = await principal(request)
    pid = request.match_info["participant_id"]
    doc = await request.app[SERVING].proof(who, case_id(request), _sid(request), pid, now(request))
    return respond(document_view(doc), 201)


async def inbox(request: web.Request) -> web.Response:
    who = await principal(request)
    return respond({"services": await request.app[SERVING].inbox(who, case_id(request), now(request))})


async def served(request: web.Request) -> web.Response:
    who = await principal(request, service_link=True)
    return respond(await request.app[SERVING].served(who, now(request)))


async def served_document(request: web.Request) -> web.Response:
    who = await principal(request, service_link=True)
    download = query(request, DownloadQuery).download
    doc, data = await request.app[SERVING].served_document(who, now(request), download=download)
    return web.Response(
        body=data,
        content_type=doc.media_type,
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": "attachment" if download else "inline",
            "X-Content-SHA256": doc.sha256,
        },
    )


async def _served(request: web.Request) -> tuple[DocumentRecord, Loader]:
    who = await principal(request, service_link=True)
    serving = request.app[SERVING]
    doc = await serving.served_record(who, now(request), download=False)
    return doc, lambda: serving.cases.blobs.get(doc.sha256)


async def served_page(request: web.Request) -> web.Response:
    return await page_response(request, *await _served(request))


async def served_pages(request: web.Request) -> web.Response:
    return await layout_response(request, *await _served(request))


async def sms_receipt(request: web.Request) -> web.Response:
    """A delivery receipt from the SMS gateway: HMAC-signed with the gateway key, no bearer token."""
    from server.notify import check_webhook_signature

    raw = await raw_body(request, MAX_RECEIPT)
    key = request.app[SERVING].sms_key
    signed = check_webhook_signature(
        key,
        request.headers.get("X-Mediation-Timestamp"),
        raw,
        request.headers.get("X-Mediation-Signature"),
        now(request).timestamp(),
    )
    if not key or not signed:
        raise Unauthenticated("The receipt is not signed with the gateway's key")
    try:
        receipt = SmsReceipt.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidCommand("The receipt does not match the schema") from exc
    out = await request.app[SERVING].sms_receipt(
        receipt.reference, receipt.status == "delivered", receipt.error, now(request)
    )
    return respond({"status": out})


_SERVICE = f"{_CASE}/service"
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        f"{API}/sms/receipts",
        sms_receipt,
        "The SMS gateway reports a message delivered to the phone (service takes effect) or failed; "
        "signed with X-Mediation-Timestamp / X-Mediation-Signature (HMAC-SHA256 with the gateway key)",
        "receiveSmsReceipt",
        ReceiptView,
        auth=False,
        raw_body="application/json",
        errors=(401, 404, 422),
        tags=("service",),
    ),
    Endpoint(
        "POST",
        f"{_SERVICE}/consent",
        consent,
        "A party consents to electronic service and picks the channels (e-mail, SMS, platform inbox)",
        "consentToService",
        ConsentView,
        status=201,
        body=ConsentRequest,
        errors=(401, 403, 404, 422),
        tags=("service",),
    ),
    Endpoint(
        "GET",
        f"{_SERVICE}/consent",
        consents,
        "Consents to electronic service (staff: every party; a party: their own)",
        "readServiceConsents",
        ConsentsView,
        errors=(401, 403, 404),
        tags=("service",),
    ),
    Endpoint(
        "POST",
        _SERVICE,
        serve,
        "Serve a document on the parties who consented; serving the signed agreement moves the case",
        "serveDocument",
        ServiceView,
        status=201,
        body=ServeRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("service",),
    ),
    Endpoint(
        "GET",
        _SERVICE,
        services,
        "Every service of the case with each recipient and channel (a party sees only their own)",
        "readServices",
        ServicesView,
        errors=(401, 403, 404),
        tags=("service",),
    ),
    Endpoint(
        "POST",
        f"{_SERVICE}/{{service_id}}/retry",
        retry,
        "Try the flagged or failed recipients of a service again, with a new deadline",
        "retryService",
        ServiceView,
        body=RetryRequest,
        errors=(401, 403, 404, 409, 422),
        tags=("service",),
    ),
    Endpoint(
        "POST",
        f"{_SERVICE}/{{service_id}}/recipients/{{participant_id}}/proof",
        proof,
        "Make the platform-sealed proof of service (送达回证) of one recipient, as it stands now",
        "makeProofOfService",
        s.DocumentOut,
        status=201,
        errors=(401, 403, 404),
        tags=("service",),
    ),
    Endpoint(
        "GET",
        f"{_SERVICE}/inbox",
        inbox,
        "A party's platform inbox: what was served on them, each with a personal link",
        "readInbox",
        ServicesView,
        errors=(401, 403, 404),
        tags=("service",),
    ),
    Endpoint(
        "GET",
        f"{API}/served",
        served,
        "With a service link: the document served on you (the first call records that you opened it)",
        "readServed",
        ServedView,
        errors=(401, 404),
        tags=("service",),
    ),
    Endpoint(
        "GET",
        f"{API}/served/document",
        served_document,
        "With a service link: the served document's bytes (`download=true` is recorded as a download)",
        "readServedDocument",
        None,
        query=DownloadQuery,
        raw_response=DOCUMENT_MEDIA_TYPES,
        errors=(401, 404),
        tags=("service",),
    ),
    Endpoint(
        "GET",
        f"{API}/served/pages",
        served_pages,
        "With a service link: the served document's pages (422 for a document the platform did not make)",
        "readServedPages",
        PagesView,
        errors=(401, 404, 422),
        tags=("service",),
    ),
    Endpoint(
        "GET",
        f"{API}/served/pages/{{page}}",
        served_page,
        "With a service link: one page of the served document as a PNG",
        "readServedPage",
        None,
        query=PageQuery,
        raw_response="image/png",
        errors=(401, 404, 422),
        tags=("service",),
    ),
)


# ---------------------------------------------------------------------- the address for service (送达地址确认书)

ADDRESSES: web.AppKey[ServiceAddresses] = web.AppKey("service_addresses", ServiceAddresses)

MainlandMobile = Annotated[str, StringConstraints(pattern=r"^1[3-9][0-9]{9}$")]


class ServiceAddressRequest(s.Strict):
    """A party confirms their own address for service (送达地址确认书) and reads the legal notice."""

    phone: MainlandMobile | None = Field(default=None, description="Mainland mobile number for SMS")
    email: s.Email | None = None
    postal_address: s.Name | None = Field(default=None, description="At most 200 characters")
    postal_recipient: s.Name | None = Field(default=None, description="Who takes the post (default: the party)")
    electronic: bool = Field(description="Whether electronic service is accepted")
    channels: list[Literal["email", "sms", "inbox"]] = Field(
        default_factory=list, max_length=3, description="At least one when electronic service is accepted"
    )
    acknowledged: Literal[True] = Field(description="The party read the notice: documents sent there count as served")


class ServiceAddressView(s.Open):
    participant_id: str
    name: str
    role: str
    confirmed: bool
    confirmed_at: str | None
    phone: str | None
    email: str | None
    postal_address: str | None
    postal_recipient: str | None
    electronic: bool | None
    channels: list[str]
    document_id: str | None


class ServiceAddressesView(s.Open):
    notice: list[str]
    acknowledgement: str
    addresses: list[ServiceAddressView]


async def confirm_address(request: web.Request) -> web.Response:
    who = await principal(request)
    req = await body(request, ServiceAddressRequest)
    form = AddressForm(
        req.phone, req.email, req.postal_address, req.postal_recipient, req.electronic, list(req.channels)
    )
    return respond(await request.app[ADDRESSES].confirm(who, case_id(request), form, now(request)))


async def read_addresses(request: web.Request) -> web.Response:
    who = await principal(request)
    found = await request.app[ADDRESSES].addresses(who, case_id(request))
    return respond({"notice": list(NOTICE), "acknowledgement": ACKNOWLEDGEMENT, "addresses": found})


async def address_document(request: web.Request) -> web.Response:
    who = await principal(request)
    pid = request.match_info["participant_id"]
    doc, data = await request.app[ADDRESSES].document(who, case_id(request), pid)
    return web.Response(
        body=data,
        content_type=doc.media_type,
        headers={"Cache-Control": "no-store", "Content-Disposition": "attachment", "X-Content-SHA256": doc.sha256},
    )


ENDPOINTS = ENDPOINTS + (
    Endpoint(
        "PUT",
        f"{_CASE}/service-address",
        confirm_address,
        "A party confirms their own address for service (送达地址确认书): mobile, e-mail, postal address, "
        "electronic service and its channels; the sealed PDF is kept, service goes there from now on",
        "confirmServiceAddress",
        ServiceAddressView,
        body=ServiceAddressRequest,
        errors=(401, 403, 404, 422),
        tags=("service",),
    ),
    Endpoint(
        "GET",
        f"{_CASE}/service-addresses",
        read_addresses,
        "Addresses for service and the notice the parties read (staff: every party; a party: their own)",
        "readServiceAddresses",
        ServiceAddressesView,
        errors=(401, 403, 404),
        tags=("service",),
    ),
    Endpoint(
        "GET",
        f"{_CASE}/service-addresses/{{participant_id}}/document",
        address_document,
        "The newest 送达地址确认书 PDF of a party (the staff on the case, and that party)",
        "readServiceAddressDocument",
        None,
        raw_response="application/pdf",
        errors=(401, 404),
        tags=("service",),
    ),
)
