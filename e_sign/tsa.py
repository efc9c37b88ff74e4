"""The platform's RFC 3161 time-stamp authority, and a pyHanko time-stamper that asks it in process.

:class:`TimestampAuthority` turns a DER ``TimeStampReq`` into a DER ``TimeStampResp``; it never raises for
what a client sends: a malformed or unacceptable request gets ``PKIStatus`` *rejection* (2) with a
``failInfo`` bit and a status string. The server exposes it later as ``POST /tsa``
(``application/timestamp-query`` in, ``application/timestamp-reply`` out); :class:`InProcessTimeStamper`
lets the signing code stamp without that HTTP round trip. pyHanko's own ``HTTPTimeStamper`` accepts the same
responses (checked in the tests over a real HTTP server).

The token (RFC 3161 §2.4.2, RFC 5816): a CMS ``SignedData`` (v3) over a ``TSTInfo`` with

* ``policy`` :data:`POLICY_OID`, unless the request names another policy (then ``unacceptedPolicy``);
* the request's ``messageImprint`` echoed (SHA-256, SHA-384 or SHA-512 only: anything else is ``badAlg``;
  an imprint of the wrong length is ``badDataFormat``);
* ``serialNumber``: 128 random bits, so serials are unique across restarts and nodes without coordination;
* ``genTime`` from the injected clock, in UTC, with the fraction of a second it has (no trailing zeros);
  ``accuracy`` one second (the node's clock is NTP-disciplined; a tighter claim would be unfounded);
* the request's ``nonce`` echoed; ``tsa`` = the TSA certificate's subject;
* the ``certificates`` field only when ``certReq`` is true (then the TSA certificate and ``chain``);
* one ``SignerInfo`` (issuerAndSerialNumber, as pyHanko's client requires) with the signed attributes
  content-type, message-digest and signing-certificate-v2 (ESSCertIDv2, SHA-256), signed
  ECDSA P-256 / SHA-256 with ``cryptography``.

Requests with extensions are refused (``unacceptedExtension``): this TSA supports none.

The policy OID lives under ``2.25`` (ITU-T X.667: an OID made of a random UUID, needing no registration):
``2.25.67066640154778652317129537141926091052`` is UUID ``327490a7-66ef-49d5-8793-d7f4420d592c``, minted
for "court-mediation TSA policy, version 1: tokens issued by the platform's own TSA for signatures and
audit-chain anchors on its documents, time from the node's NTP-disciplined clock, accuracy ±1 s".
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import algos, cms, core, tsp  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.sign.timestamps import TimeStamper

from e_sign.ca import PlatformCA, generate_key, read_private_key, signing_certificate_v2_attribute, write_private_file
from e_sign.errors import CAError, TimestampError

__all__ = [
    "ACCEPTED_DIGESTS",
    "POLICY_OID",
    "TSA_CERT_FILE",
    "TSA_KEY_FILE",
    "InProcessTimeStamper",
    "TimeStampResponse",
    "TimestampAuthority",
    "TimestampInfo",
    "check_token",
]

logger = logging.getLogger(__name__)

POLICY_OID = "2.25.67066640154778652317129537141926091052"
TSA_KEY_FILE = "tsa.key"
TSA_CERT_FILE = "tsa.pem"
ACCEPTED_DIGESTS: dict[str, int] = {"sha256": 32, "sha384": 48, "sha512": 64}
"""Message-imprint algorithms accepted, with their digest length in bytes."""
MAX_REQUEST_BYTES = 16 * 1024

_ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)
"""What asn1crypto raises on malformed input (it parses lazily, so also on first access)."""


class _Refusal(Exception):
    """A request this TSA will not stamp: the failInfo bit and the status string for the client."""

    def __init__(self, fail_info: str, text: str) -> None:
        super().__init__(text)
        self.fail_info = fail_info
        self.text = text


class TimeStampResponse(core.Sequence):  # type: ignore[misc]
    """RFC 3161 ``TimeStampResp`` with ``timeStampToken`` OPTIONAL, as the RFC has it.

    asn1crypto's ``tsp.TimeStampResp`` makes the token mandatory, so it can neither build nor read a
    rejection (and pyHanko, which uses it, fails on one with ``ValueError`` instead of its
    ``TimestampRequestError``). Read responses of this TSA with ``TimeStampResponse.load(der)``.
    """

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]


def _to_asn1(certificate: x509.Certificate) -> Any:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


class TimestampAuthority:
    """An RFC 3161 time-stamp authority with one ECDSA key.

    ``chain`` are the certificates above the TSA certificate that a client may need (the platform CA's);
    ``clock`` returns the current time, timezone-aware.
    """

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        cert: x509.Certificate,
        chain: Sequence[x509.Certificate],
        clock: Callable[[], datetime],
        *,
        policy: str = POLICY_OID,
    ) -> None:
        fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if key.public_key().public_bytes(*fmt) != cert.public_key().public_bytes(*fmt):
            raise CAError("The TSA key does not belong to the TSA certificate")
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        except x509.ExtensionNotFound as exc:
            raise CAError("The TSA certificate has no extended key usage") from exc
        if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
            raise CAError("The TSA certificate's extended key usage must be id-kp-timeStamping only, critical")
        self.key = key
        self.cert = cert
        self.chain = tuple(chain)
        self.clock = clock
        self.policy = policy
        self._cert_asn1 = _to_asn1(cert)
        self._chain_asn1 = [_to_asn1(c) for c in self.chain]
        sid = cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value=cms.IssuerAndSerialNumber(
                {"issuer": self._cert_asn1.issuer, "serial_number": self._cert_asn1.serial_number}
            ),
        )
        # asn1crypto re-encodes a value built from Python data on every dump (2.6 ms for the ESSCertIDv2
        # attribute alone), but not one loaded from DER: the parts that never change are encoded once here
        self._der = {
            "signing_certificate": signing_certificate_v2_attribute(cert),
            "sid": sid.dump(),
            "tsa_name": asn1_x509.GeneralName(name="directory_name", value=self._cert_asn1.subject).dump(),
            "certificates": cms.CertificateSet([self._cert_asn1, *self._chain_asn1]).dump(),
        }

    @classmethod
    def load_or_create(
        cls,
        folder: Path,
        ca: PlatformCA,
        clock: Callable[[], datetime],
        *,
        key_path: Path | None = None,
        cert_path: Path | None = None,
    ) -> TimestampAuthority:
        """The TSA whose key and certificate are in ``folder`` (``tsa.key``, ``tsa.pem``, mode 0600), made the
        first time with a fresh key certified by ``ca``; or the configured pair when both paths are given."""
        if (key_path is None) != (cert_path is None):
            raise CAError("Configure both the TSA key path and the TSA certificate path, or neither")
        key_file = key_path or folder / TSA_KEY_FILE
        cert_file = cert_path or folder / TSA_CERT_FILE
        if key_path is None and not key_file.exists() and not cert_file.exists():
            key = generate_key()
            cert = ca.issue_tsa(key.public_key(), clock())
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            write_private_file(key_file, pem)
            write_private_file(cert_file, cert.public_bytes(serialization.Encoding.PEM))
            logger.info("Created the time-stamp authority's key and certificate in %s", folder)
            return cls(key, cert, [ca.certificate], clock)
        key = read_private_key(key_file)
        try:
            cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        except (OSError, ValueError) as exc:
            raise CAError(f"Cannot load the TSA certificate {cert_file}") from exc
        try:
            cert.verify_directly_issued_by(ca.certificate)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise CAError(f"The TSA certificate {cert_file} was not issued by the platform CA") from exc
        now = clock()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise CAError(
                f"The TSA certificate {cert_file} is valid from {cert.not_valid_before_utc:%Y-%m-%d} "
                f"to {cert.not_valid_after_utc:%Y-%m-%d}; move {key_file.name} and {cert_file.name} away "
                "to have a new one issued"
            )
        return cls(key, cert, [ca.certificate], clock)

    # -- the protocol --------------------------------------------------------------------------------

    def respond(self, request_der: bytes) -> bytes:
        """The DER ``TimeStampResp`` for a DER ``TimeStampReq``: a token, or a rejection saying why."""
        try:
            request = self._parse(request_der)
        except _Refusal as refusal:
            logger.info("Time-stamp request refused: %s", refusal.text)
            return self._rejection(refusal.fail_info, refusal.text)
        gen_time = self.clock()
        if gen_time.tzinfo is None or gen_time.utcoffset() is None:
            logger.error("The TSA clock returned a naive datetime")
            return self._rejection("time_not_available", "The time source is not available")
        token = self._token(request, gen_time.astimezone(UTC))
        status = tsp.PKIStatusInfo({"status": "granted"})
        return bytes(tsp.TimeStampResp({"status": status, "time_stamp_token": token}).dump())

    def _parse(self, der: bytes) -> Any:
        if not isinstance(der, bytes | bytearray | memoryview) or not der:
            raise _Refusal("bad_data_format", "The request is empty")
        if len(der) > MAX_REQUEST_BYTES:
            raise _Refusal("bad_data_format", "The request is too large")
        try:
            request = tsp.TimeStampReq.load(bytes(der), strict=True)
            request.native  # noqa: B018 - asn1crypto parses lazily: this parses every field now
            version = request["version"].native
            imprint = request["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            parameters = imprint["hash_algorithm"]["parameters"].native
            digest = imprint["hashed_message"].native
            policy = request["req_policy"].dotted if request["req_policy"].native is not None else None
            extensions = request["extensions"].native
        except _ASN1_ERRORS as exc:
            raise _Refusal("bad_data_format", "The request is not a DER-encoded TimeStampReq") from exc
        if version != "v1":
            raise _Refusal("bad_request", "Only version 1 requests are supported")
        if algorithm not in ACCEPTED_DIGESTS or parameters is not None:
            raise _Refusal("bad_alg", "The message imprint must be SHA-256, SHA-384 or SHA-512")
        if not isinstance(digest, bytes) or len(digest) != ACCEPTED_DIGESTS[algorithm]:
            raise _Refusal("bad_data_format", "The message imprint's length does not match its algorithm")
        if policy is not None and policy != self.policy:
            raise _Refusal("unaccepted_policy", f"This TSA issues tokens under policy {self.policy} only")
        if extensions:
            raise _Refusal("unaccepted_extensions", "This TSA supports no request extensions")
        return request

    def _token(self, request: Any, gen_time: datetime) -> Any:
        tst_info: dict[str, Any] = {
            "version": "v1",
            "policy": self.policy,
            "message_imprint": request["message_imprint"],
            "serial_number": secrets.randbits(128) | 1 << 127,  # 128 bits, always positive, never shorter
            "gen_time": core.GeneralizedTime(gen_time),
            "accuracy": {"seconds": 1},
            "tsa": asn1_x509.GeneralName.load(self._der["tsa_name"]),
        }
        if request["nonce"].native is not None:
            tst_info["nonce"] = request["nonce"]
        tst_info_der = tsp.TSTInfo(tst_info).dump()
        signed_attrs = cms.CMSAttributes(
            [
                cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
                cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(tst_info_der).digest()]}),
                cms.CMSAttribute.load(self._der["signing_certificate"]),
            ]
        )
        signature = self.key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
        digest_algorithm = algos.DigestAlgorithm({"algorithm": "sha256"})
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier.load(self._der["sid"]),
                "digest_algorithm": digest_algorithm,
                "signed_attrs": signed_attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
                "signature": signature,
            }
        )
        signed_data: dict[str, Any] = {
            "version": "v3",
            "digest_algorithms": [digest_algorithm],
            "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(tst_info_der)},
            "signer_infos": [signer_info],
        }
        if request["cert_req"].native:
            signed_data["certificates"] = cms.CertificateSet.load(self._der["certificates"])
        return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})

    def _rejection(self, fail_info: str, text: str) -> bytes:
        status = tsp.PKIStatusInfo(
            {
                "status": "rejection",
                "status_string": [text],
                "fail_info": tsp.PKIFailureInfo({fail_info}),
            }
        )
        return bytes(TimeStampResponse({"status": status}).dump())


class InProcessTimeStamper(TimeStamper):
    """A pyHanko time-stamper that asks a :class:`TimestampAuthority` in this process (no HTTP)."""

    def __init__(self, authority: TimestampAuthority) -> None:
        super().__init__(include_nonce=True)  # type: ignore[no-untyped-call]
        self.authority = authority

    async def async_request_tsa_response(self, req: Any) -> Any:
        der = self.authority.respond(req.dump())
        status = TimeStampResponse.load(der)["status"]
        if status["status"].native not in ("granted", "granted_with_mods"):
            text = "; ".join(status["status_string"].native or [])
            raise TimestampError(f"The time-stamp authority refused the request: {text}")
        return tsp.TimeStampResp.load(der)


@dataclass(frozen=True)
class TimestampInfo:
    """What a checked time-stamp token says (see :func:`check_token`)."""

    gen_time: datetime
    """When the TSA stamped it."""
    serial_number: int
    """The token's serial number, unique per token."""
    policy: str
    """The TSA policy OID it was issued under."""
    nonce: int | None
    """The nonce of the request, echoed."""
    imprint: bytes
    """The message imprint it certifies."""


def check_token(token_der: bytes, data: bytes, tsa_cert: x509.Certificate) -> TimestampInfo:
    """Check a time-stamp token on its own: its imprint is the hash of ``data``, its TSTInfo is the one signed,
    and the signature over its signed attributes is ``tsa_cert``'s. Raises :class:`TimestampError` otherwise.

    This is deliberately independent of pyHanko's validator (asn1crypto to parse, ``cryptography`` to check).
    """
    try:
        content_info = cms.ContentInfo.load(token_der)
        signed_data = content_info["content"]
        tst_info_der = signed_data["encap_content_info"]["content"].contents
        tst_info = tsp.TSTInfo.load(tst_info_der)
        (signer_info,) = signed_data["signer_infos"]
        signed_attrs = signer_info["signed_attrs"]
        attrs = {a["type"].native: a["values"][0] for a in signed_attrs}
        algorithm = tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native
        imprint = tst_info["message_imprint"]["hashed_message"].native
        signed_der = signed_attrs.untag().dump(force=True)
        signature = signer_info["signature"].native
        content_type = attrs["content_type"].native
        message_digest = attrs["message_digest"].native
        info = TimestampInfo(
            tst_info["gen_time"].native,
            tst_info["serial_number"].native,
            tst_info["policy"].dotted,
            tst_info["nonce"].native,
            imprint,
        )
    except _ASN1_ERRORS as exc:
        raise TimestampError("The time-stamp token cannot be parsed") from exc
    if content_type != "tst_info":
        raise TimestampError("The time-stamp token does not sign a TSTInfo")
    if algorithm not in ACCEPTED_DIGESTS or hashlib.new(algorithm, data).digest() != imprint:
        raise TimestampError("The time-stamp token's message imprint does not match the data")
    if hashlib.sha256(tst_info_der).digest() != message_digest:
        raise TimestampError("The time-stamp token's TSTInfo is not the one signed")
    public_key = tsa_cert.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise TimestampError("The TSA certificate's key is not an ECDSA key")
    try:
        public_key.verify(signature, signed_der, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError) as exc:
        raise TimestampError("The time-stamp token's signature is not the TSA's") from exc
    return info
