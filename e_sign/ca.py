"""The platform's own certification authority.

One long-lived key and a self-signed CA certificate, loaded from configured paths or generated once into
the data folder (``ca.key``, ``ca.pem``, both mode 0600, never overwritten). The CA issues:

* an **event certificate** for every single signature (the model of Chinese e-sign platforms): a fresh
  ECDSA P-256 key is generated for that one signature, used once and dropped. It is never written
  anywhere, so once the signature is made no key exists that could make another one under that
  certificate. (The CA could certify another key in the same name: that is the trust model of event
  certificates — the platform vouches for who signed, and its audit trail and time-stamps say when.)
  The certificate names the signer by display name only: ``CN`` = the display name, ``serialNumber`` =
  a pseudonym (SHA-256 of the participant id), ``OU`` = the case number, ``title`` = the role if given,
  ``O`` = the platform; values over the length limits are shortened with "…" (a common name to 64 bytes
  of UTF-8, 21 Chinese characters: then the whole name goes into X.520 ``name`` as well). No ID card
  number, phone number or e-mail ever goes into a certificate. Key usage: digitalSignature +
  nonRepudiation (contentCommitment), critical; valid from 10 minutes before to 1 hour after the
  signing moment; AKI and SKI.
* the **TSA certificate** of the platform's RFC 3161 time-stamp authority (:mod:`e_sign.tsa`):
  extended key usage id-kp-timeStamping only, critical, as RFC 3161 §2.3 requires.

Why ECDSA P-256: both independent validators we check against accept it. pyHanko validates RSA, ECDSA and
EdDSA; poppler's ``pdfsig`` (poppler 22.12 with NSS 3.87, Debian 12) validates RSA and ECDSA P-256
signatures ("Signature is Valid.", "Certificate is Trusted.") but answers an Ed25519 one, signed by
pyHanko in the same way under the same trusted CA, with "Signature Validation: Document isn't signed or
corrupted data.". And a key is made for every signature: a P-256 key takes about 0.013 ms to generate
here, an RSA-2048 key about 72 ms.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from e_sign.errors import CAError

__all__ = [
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "CA_VALIDITY",
    "EVENT_CERT_AFTER",
    "EVENT_CERT_BEFORE",
    "PLATFORM_NAME",
    "EventCertificate",
    "PlatformCA",
    "SignerIdentity",
    "generate_key",
    "pseudonym",
    "read_private_key",
    "signing_certificate_v2_attribute",
    "write_private_file",
]

logger = logging.getLogger(__name__)

PLATFORM_NAME = "在线调解平台"
CA_KEY_FILE = "ca.key"
CA_CERT_FILE = "ca.pem"
CA_VALIDITY = timedelta(days=20 * 365)
EVENT_CERT_BEFORE = timedelta(minutes=10)
"""How long before the signing moment an event certificate is already valid (clock skew between nodes)."""
EVENT_CERT_AFTER = timedelta(hours=1)
"""How long after the signing moment an event certificate stays valid: long enough to finish one signature."""
_PSEUDONYM_CONTEXT = b"court-mediation participant v1\x00"
NAME_OID = x509.ObjectIdentifier("2.5.4.41")
"""X.520 ``name``: carries a display name too long for the common name."""


SIGNING_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=True,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)
"""What an end-entity key of the platform may do: sign, with non-repudiation (content commitment)."""


@dataclass(frozen=True)
class SignerIdentity:
    """Who signs: what goes into the event certificate."""

    participant_id: str
    """The participant's id on the platform; only :func:`pseudonym` of it goes into the certificate."""
    display_name: str
    """The name shown to people: the certificate's common name and the text of the visible signature."""
    case_number: str
    """The case (案号), written as the certificate's organizational unit."""
    role: str | None = None
    """The signer's role in the case (申请人, 被申请人, 调解员…), written as the certificate's title if given."""


@dataclass(frozen=True)
class EventCertificate:
    """A one-signature key and its certificate. The key exists only in memory and only for one signature."""

    key: ec.EllipticCurvePrivateKey
    """The fresh private key; never serialised."""
    certificate: x509.Certificate
    """The event certificate issued by the platform CA."""


def generate_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def pseudonym(participant_id: str) -> str:
    """The certificate's ``serialNumber`` for a participant: 64 hex digits, the same for every signature of theirs.

    It links a participant's signatures to one another and to the platform's records, and tells an outsider
    nothing (participant ids are random, not derived from personal data).
    """
    return hashlib.sha256(_PSEUDONYM_CONTEXT + participant_id.encode("utf-8")).hexdigest()


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    length = (
        bytes([n]) if n < 0x80 else bytes([0x80 | (n.bit_length() + 7) // 8]) + n.to_bytes((n.bit_length() + 7) // 8)
    )
    return bytes([tag]) + length + content


_SIGNING_CERTIFICATE_V2_OID = bytes.fromhex("060b2a864886f70d010910022f")  # 1.2.840.113549.1.9.16.2.47


def signing_certificate_v2_attribute(certificate: x509.Certificate) -> bytes:
    """The DER CMS attribute signing-certificate-v2 (RFC 5035) naming ``certificate`` by its SHA-256 hash.

    Encoded here directly: building it with asn1crypto costs about 2.5 ms a time (it re-encodes every
    nested value), a sixth of a whole signature. ``hashAlgorithm`` is left out, SHA-256 being its DEFAULT.
    """
    serial = certificate.serial_number
    if serial < 0:
        raise ValueError("certificate serial numbers are positive")
    issuer_serial = _der(
        0x30,
        _der(0x30, _der(0xA4, certificate.issuer.public_bytes()))  # GeneralNames { directoryName [4] }
        + _der(0x02, serial.to_bytes((serial.bit_length() + 8) // 8)),
    )
    cert_hash = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()
    ess_cert_id = _der(0x30, _der(0x04, cert_hash) + issuer_serial)
    value = _der(0x30, _der(0x30, ess_cert_id))  # SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 }
    return _der(0x30, _SIGNING_CERTIFICATE_V2_OID + _der(0x31, value))


def write_private_file(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600, write ``data`` and fsync it and its folder; never overwrites (an
    existing file is a :class:`CAError`)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise CAError(f"{path} already exists; it is not overwritten") from exc
    except OSError as exc:
        raise CAError(f"Cannot create {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        folder = os.open(path.parent, os.O_RDONLY)  # the name too must survive a crash
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError as exc:
        raise CAError(f"Cannot write {path}: {exc.strerror}") from exc


def read_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """Load an unencrypted PEM ECDSA private key; warns when the file is readable by others."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise CAError(f"Cannot read {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("Private key %s is accessible to other users (mode %o); it should be 0600", path, mode & 0o777)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise CAError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CAError(f"{path} is not an ECDSA key")
    return key


def _read_certificate(path: Path) -> x509.Certificate:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CAError(f"Cannot read {path}: {exc.strerror}") from exc
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise CAError(f"{path} is not a PEM certificate") from exc


def _fit(value: str, limit: int = 64) -> str:
    """``value`` stripped, and shortened with "…" to X.520's upper bound (64 characters for OU, O, title)."""
    value = value.strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _fit_common_name(value: str) -> str:
    """``value`` stripped, and shortened with "…" to 64 bytes of UTF-8: ``cryptography`` holds a common name to
    64 *bytes* (X.520 says 64 characters), which is 21 Chinese characters."""
    value = value.strip()
    if len(value.encode("utf-8")) <= 64:
        return value
    while len(value.encode("utf-8")) > 64 - len("…".encode()):
        value = value[:-1]
    return value + "…"


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now


def _same_public_key(key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return key.public_key().public_bytes(enc, fmt) == certificate.public_key().public_bytes(enc, fmt)


class PlatformCA:
    """The platform's certification authority: its key, its self-signed certificate, and what it issues."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
        if not _same_public_key(key, certificate):
            raise CAError("The CA key does not belong to the CA certificate")
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound as exc:
            raise CAError("The CA certificate has no basic constraints") from exc
        if not constraints.ca:
            raise CAError("The CA certificate is not a CA certificate (basicConstraints cA is false)")
        self.key = key
        self.certificate = certificate
        self._ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        self._aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(self._ski)

    # -- loading and creating ------------------------------------------------------------------

    @classmethod
    def create(cls, now: datetime, *, name: str = PLATFORM_NAME) -> PlatformCA:
        """A new CA in memory: a fresh P-256 key and a self-signed certificate valid for :data:`CA_VALIDITY`."""
        now = _aware(now)
        key = generate_key()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, _fit(name)),
                x509.NameAttribute(NameOID.COMMON_NAME, _fit_common_name(f"{name} 电子签名 CA")),
            ]
        )
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - EVENT_CERT_BEFORE)
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    @classmethod
    def load(cls, key_path: Path, cert_path: Path) -> PlatformCA:
        """The CA from a PEM private key (unencrypted PKCS#8 or SEC1) and a PEM certificate."""
        ca = cls(read_private_key(key_path), _read_certificate(cert_path))
        try:
            ca.certificate.verify_directly_issued_by(ca.certificate)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise CAError(f"{cert_path} is not a valid self-signed certificate") from exc
        return ca

    @classmethod
    def load_or_create(
        cls,
        folder: Path,
        now: datetime,
        *,
        key_path: Path | None = None,
        cert_path: Path | None = None,
        name: str = PLATFORM_NAME,
    ) -> PlatformCA:
        """The configured CA (both paths given), else the one in ``folder``, created there the first time.

        A half-present pair (a key without its certificate or the reverse) is an error, never repaired by
        overwriting. Two nodes that start for the very first time together on a shared folder can race;
        create the CA with one of them first.
        """
        if (key_path is None) != (cert_path is None):
            raise CAError("Configure both the CA key path and the CA certificate path, or neither")
        if key_path is not None and cert_path is not None:
            return cls.load(key_path, cert_path)
        key_file, cert_file = folder / CA_KEY_FILE, folder / CA_CERT_FILE
        if key_file.exists() or cert_file.exists():
            if not (key_file.exists() and cert_file.exists()):
                raise CAError(f"Only one of {key_file} and {cert_file} exists; restore the other or remove both")
            return cls.load(key_file, cert_file)
        ca = cls.create(now, name=name)
        ca.save(folder)
        logger.info("Created the platform CA in %s (certificate serial %x)", folder, ca.certificate.serial_number)
        return ca

    def save(self, folder: Path) -> None:
        """Write ``ca.key`` and ``ca.pem`` into ``folder`` (mode 0600, the folder 0700; refuses to overwrite)."""
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        key_pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_private_file(folder / CA_KEY_FILE, key_pem)
        write_private_file(folder / CA_CERT_FILE, self.certificate.public_bytes(serialization.Encoding.PEM))

    # -- issuing ---------------------------------------------------------------------------------

    def _check_time(self, not_before: datetime, not_after: datetime) -> None:
        if not_before < self.certificate.not_valid_before_utc or not_after > self.certificate.not_valid_after_utc:
            raise CAError(
                "The CA certificate is valid from "
                f"{self.certificate.not_valid_before_utc:%Y-%m-%d} to {self.certificate.not_valid_after_utc:%Y-%m-%d}; "
                f"it cannot certify {not_before:%Y-%m-%d %H:%M} to {not_after:%Y-%m-%d %H:%M}"
            )

    def issue_signer(
        self, identity: SignerIdentity, now: datetime, *, key: ec.EllipticCurvePrivateKey | None = None
    ) -> EventCertificate:
        """A fresh key (or ``key``) and an event certificate for one signature by ``identity`` at ``now``."""
        now = _aware(now)
        key = key if key is not None else generate_key()
        if not identity.display_name.strip():
            raise ValueError("a signer needs a display name")
        attributes = [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _fit(self._organization())),
        ]
        if identity.case_number.strip():
            attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _fit(identity.case_number)))
        if identity.role and identity.role.strip():
            attributes.append(x509.NameAttribute(NameOID.TITLE, _fit(identity.role)))
        common_name = _fit_common_name(identity.display_name)
        if common_name != identity.display_name.strip():  # the whole name, where the common name had to be cut
            attributes.append(x509.NameAttribute(NAME_OID, identity.display_name.strip()))
        attributes += [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, pseudonym(identity.participant_id)),
        ]
        not_before, not_after = now - EVENT_CERT_BEFORE, now + EVENT_CERT_AFTER
        self._check_time(not_before, not_after)
        certificate = self._end_entity(x509.Name(attributes), key.public_key(), not_before, not_after)
        return EventCertificate(key, certificate)

    def issue_tsa(
        self,
        public_key: ec.EllipticCurvePublicKey,
        now: datetime,
        *,
        validity: timedelta = timedelta(days=5 * 365),
        name: str | None = None,
    ) -> x509.Certificate:
        """The certificate of the platform's time-stamp authority: EKU id-kp-timeStamping only, critical."""
        now = _aware(now)
        not_before = now - EVENT_CERT_BEFORE
        not_after = min(now + validity, self.certificate.not_valid_after_utc)
        self._check_time(not_before, not_after)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, _fit(self._organization())),
                x509.NameAttribute(NameOID.COMMON_NAME, _fit_common_name(name or f"{self._organization()} 时间戳服务")),
            ]
        )
        return self._end_entity(subject, public_key, not_before, not_after, [ExtendedKeyUsageOID.TIME_STAMPING])

    def _end_entity(
        self,
        subject: x509.Name,
        public_key: ec.EllipticCurvePublicKey,
        not_before: datetime,
        not_after: datetime,
        extended_usage: list[x509.ObjectIdentifier] | None = None,
    ) -> x509.Certificate:
        """A certificate for a signing key (a signer's or the TSA's), issued by this CA; an extended key usage,
        if given, is critical (the TSA's id-kp-timeStamping)."""
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(SIGNING_KEY_USAGE, critical=True)
        )
        if extended_usage:
            builder = builder.add_extension(x509.ExtendedKeyUsage(extended_usage), critical=True)
        return (
            builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(self._aki, critical=False)
            .sign(self.key, hashes.SHA256())
        )

    def _organization(self) -> str:
        values = self.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        value = values[0].value if values else PLATFORM_NAME
        return value if isinstance(value, str) else value.decode("utf-8", "replace")
