"""The mediation agreement's electronic signatures: the platform CA, its time-stamp authority, PAdES signing
and verification (issue 5).

A signed mediation agreement is a civil contract, so each signature must be the signer's alone, under their
sole control, and any later change must show. The pieces, each usable on its own (no HTTP, no flows):

* :mod:`e_sign.ca` — the platform's own certification authority: one long-lived ECDSA P-256 key and
  self-signed certificate; a fresh key and short-lived *event certificate* for every single signature
  (the common model of Chinese e-sign platforms); the certificate of the time-stamp authority.
* :mod:`e_sign.tsa` — an RFC 3161 time-stamp authority (``respond(request_der) -> response_der``) and a
  pyHanko ``TimeStamper`` that asks it in process.
* :mod:`e_sign.pades` — :func:`~e_sign.pades.sign_pdf` adds one PAdES baseline B-T signature with a visible
  appearance as an incremental update.
* :mod:`e_sign.verify` — :func:`~e_sign.verify.verify_pdf` checks every signature (pyHanko) and what was
  appended after each, and names every one that fails.

The errors of this package (this module, since they are shared by all four)::

    MediationError (server.errors)
    └── ESignError                      e_sign_error          500
        ├── CAError                     ca_error              500   key/certificate files unusable, CA expired
        ├── TimestampError              timestamp_failed      502   the TSA refused or answered nonsense
        └── SigningRefused              signing_refused       409   field already signed, document locked,
                                                                    no such page, box outside the page

Messages carry field names, page numbers and file paths, never a signer's name or identifiers.
"""

from __future__ import annotations

from server.errors import MediationError

__all__ = ["CAError", "ESignError", "SigningRefused", "TimestampError"]


class ESignError(MediationError):
    """Base of every error the signing core raises on purpose."""

    code = "e_sign_error"
    status = 500


class CAError(ESignError):
    """The CA's or the TSA's key or certificate cannot be loaded, created or used."""

    code = "ca_error"
    status = 500


class TimestampError(ESignError):
    """The time-stamp authority refused a request or its answer was unusable."""

    code = "timestamp_failed"
    status = 502


class SigningRefused(ESignError):
    """This document cannot take this signature (already signed field, locked document, bad placement)."""

    code = "signing_refused"
    status = 409
