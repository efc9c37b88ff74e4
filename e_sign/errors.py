"""The errors of the signing library, shared by all its modules::

    ESignError                  every error the library raises on purpose (itself: no font for the appearance)
    ├── CAError                 key or certificate files unusable, CA expired
    ├── TimestampError          the time-stamp authority refused or answered nonsense
    └── SigningRefused          field already signed, document locked, no such page, box outside the page

The library knows nothing of HTTP: an application maps these classes to its own answers (the
mediation server's edge, ``server.http.problems``, makes them ``e_sign_error`` 500, ``ca_error`` 500,
``timestamp_failed`` 502 and ``signing_refused`` 409 problems).

Messages carry field names, page numbers and file paths, never a signer's name or identifiers.
"""

from __future__ import annotations

__all__ = ["CAError", "ESignError", "SigningRefused", "TimestampError"]


class ESignError(Exception):
    """Base of every error the signing library raises on purpose."""


class CAError(ESignError):
    """The CA's or the TSA's key or certificate cannot be loaded, created or used."""


class TimestampError(ESignError):
    """The time-stamp authority refused a request or its answer was unusable."""


class SigningRefused(ESignError):
    """This document cannot take this signature (already signed field, locked document, bad placement)."""
