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

The package is a library: it imports nothing from the mediation server (an import-linter contract checks
it), its errors are its own (:mod:`e_sign.errors`, re-exported here), and the appearance's font comes
from its caller (or it finds a CJK face itself: :func:`e_sign.pades.default_font`)::

    ESignError
    ├── CAError
    ├── TimestampError
    └── SigningRefused

Messages carry field names, page numbers and file paths, never a signer's name or identifiers.
"""

from __future__ import annotations

from e_sign.errors import CAError, ESignError, SigningRefused, TimestampError

__all__ = ["CAError", "ESignError", "SigningRefused", "TimestampError"]
