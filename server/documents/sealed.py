"""Sealed documents: what the platform or a court issues, signed once so that no later change goes unseen.

Three court documents are built this way, each by its own stage: the completion certificate of the
signing (签署完成证明, ``server.signing.certificate``), the proof of service (送达回证,
``server.e_service.proof``) and the court's documents of judicial confirmation (application, request for
material, ruling: ``server.confirmation.documents``). Each stage renders its facts to an unsigned PDF
with one :class:`~server.documents.pdf.SignatureBox`; :func:`render_sealed` renders it off the event loop
and :func:`seal` puts one certifying PAdES signature (:mod:`e_sign`: no later change allowed) in the
box, with the issuer's event certificate and a time-stamp. The issuer is the platform
(:data:`PLATFORM`) or a court, whose own CA then signs (``Keys.court_ca``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from server.documents.fonts import signature_font
from server.documents.pdf import SignatureBox
from server.domain.time import BEIJING

if TYPE_CHECKING:
    from pyhanko.sign.timestamps import TimeStamper

    from e_sign.ca import PlatformCA

__all__ = ["PLATFORM", "SealingKeys", "render_sealed", "seal"]

PLATFORM: tuple[str, str, str] = ("platform", "在线调解平台", "电子签署服务")
"""The platform as the issuer of a sealed document: (id, name, role) of its certificate."""
LOCATION = "在线调解平台"
"""Where every seal is made (the signature's ``/Location``)."""

Facts = TypeVar("Facts")


class SealingKeys(Protocol):
    """What sealing needs: the issuing CA and a time-stamper (``server.signing.usecases.Keys`` is one)."""

    @property
    def ca(self) -> PlatformCA:
        """The CA that certifies the issuer's one-off signing key."""
        ...

    def timestamper(self) -> TimeStamper:
        """The time-stamper for a new signature."""
        ...


async def seal(
    keys: SealingKeys,
    unsigned: bytes,
    box: SignatureBox,
    case_number: str,
    reason: str,
    now: datetime,
    signer: tuple[str, str, str] = PLATFORM,
) -> bytes:
    """A document the platform (or a court) issues: one certifying signature (no later change allowed)
    in ``box``, by ``signer`` = (id, name, role)."""
    from e_sign.ca import SignerIdentity
    from e_sign.pades import sign_pdf

    font = await asyncio.to_thread(signature_font)
    signed: bytes = await asyncio.to_thread(
        functools.partial(
            sign_pdf,
            unsigned,
            field_name=box.field_name,
            page=box.page,
            box=box.box,
            signer=SignerIdentity(signer[0], signer[1], case_number, signer[2]),
            ca=keys.ca,
            timestamper=keys.timestamper(),
            mark_png=None,
            reason=reason,
            location=LOCATION,
            now=now.astimezone(BEIJING),
            certify=True,
            font=font,
        )
    )
    return signed


async def render_sealed(
    render: Callable[[Facts], tuple[bytes, SignatureBox]],
    facts: Facts,
    keys: SealingKeys,
    case_number: str,
    reason: str,
    now: datetime,
    signer: tuple[str, str, str] = PLATFORM,
) -> bytes:
    """``render(facts)`` (in a thread: fonts and subsetting take about a second of CPU), then :func:`seal`."""
    unsigned, box = await asyncio.to_thread(render, facts)
    return await seal(keys, unsigned, box, case_number, reason, now, signer)
