"""The delivery engine of electronic service: sends due deliveries and flags recipients not served by the deadline.

One :class:`DeliveryWorker` per server node, run by a :class:`~server.outbound.runner.LeasedRunner`
every second or at once when a service is started. Each round::

    deliveries due ──(1) claim──▶ ``sending`` with a lease        (ServiceStore.claim_due: a conditional UPDATE)
                   ──(2) send───▶ inbox: accepted at once; e-mail (the document attached, a personal link)
                                  or SMS (the link) through the notifier
                   ──(3) record─▶ accepted: service on that recipient takes effect (the first channel wins);
                                  handed to a log, or an SMS awaiting its receipt: ``sent``;
                                  refused: ServingService.record_failed_attempt (back-off, then given up)
    then every recipient past the deadline ──▶ ServingService.flag_overdue

Claims are conditional UPDATEs with a lease (see
:meth:`server.e_service.store.ServiceStore.claim_due`), so several nodes on one PostgreSQL
database share the work without sending a delivery twice at the same time; a node that dies
mid-send leaves its claim to be taken over when the lease runs out.

What the deliveries mean for the case (service effective, failed attempts and their back-off,
flags, receipts) is recorded by :class:`server.e_service.usecases.ServingService`, whose
channels (``notifier``, ``base_url``, ``sms_receipts``) the engine sends through.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from server.domain.participants import Participant
from server.e_service.store import DeliveryRow, ServiceRow
from server.e_service.usecases import ServingService
from server.errors import DeliveryFailed
from server.notify import Attachment, Message
from server.outbound.runner import LeasedRunner

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
"""How long a claim keeps other nodes off a delivery while it is being sent."""
LINK_TTL = timedelta(days=30)
"""How long the personal link in an e-mail or SMS opens the served document."""
MAX_ATTACHMENT = 10 * 1024 * 1024
"""The largest document attached to an e-mail (a larger one travels by its link alone)."""


class DeliveryWorker:
    """The delivery job of one node: :meth:`run_round` every ``interval`` seconds, or at once when poked."""

    def __init__(self, serving: ServingService, clock: Callable[[], datetime], interval: float = 1.0) -> None:
        """``serving``: the e-service use-cases (its store, channels and records); ``clock``: the server's."""
        self.serving = serving
        self.clock = clock
        self.interval = interval
        self.runner = LeasedRunner(self, "delivery")

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        """Run the rounds in the background."""
        self.runner.start()

    def poke(self) -> None:
        """Look for work now (after a new service)."""
        self.runner.poke()

    async def close(self) -> None:
        """Stop; a delivery cut off mid-send keeps its lease and is sent again when it runs out."""
        await self.runner.close()

    def pause(self, done: int) -> float:
        """The polling interval, whatever the round did."""
        return self.interval

    async def tick(self) -> int:
        """One round by hand (tests, an operator): :meth:`run_round`."""
        return await self.run_round()

    # ------------------------------------------------------------------ one round

    async def run_round(self) -> int:
        """One round: every due delivery once, then the deadlines. Returns how many deliveries ran."""
        now = self.clock()
        claimed = await self.serving.store.claim_due(now, now + LEASE)
        for delivery in claimed:
            try:
                await self.deliver(delivery, self.clock())
            except Exception as exc:  # noqa: BLE001 - one bad delivery must not stop the others; its lease expires
                # only the type, as the runner does: a gateway's message or a traceback's values may
                # carry the address, the text or a statement's parameters
                logger.error(
                    "delivery %s failed unexpectedly (%s); it will be tried again", delivery.id, type(exc).__name__
                )
        try:
            await self.serving.flag_overdue(self.clock())
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            logger.error("flagging overdue recipients failed (%s)", type(exc).__name__)
        return len(claimed)

    async def deliver(self, delivery: DeliveryRow, now: datetime) -> str:
        """One attempt of one claimed delivery; returns its new status."""
        serving = self.serving
        service = await serving.store.service(delivery.service_id)
        assert service is not None
        participant = await serving.repo.participant(delivery.participant_id)
        attempts = delivery.attempts + 1
        if delivery.channel == "inbox":
            await serving.store.finish(
                delivery.id,
                {
                    "status": "accepted",
                    "attempts": attempts,
                    "sent_at": now,
                    "accepted_at": now,
                    "next_attempt_at": None,
                },
            )
            await serving.record_effective(service, participant.id, "inbox", now)
            return "accepted"
        try:
            message = await self._message(service, participant, delivery, now)
            result = await serving.notifier.send(message)
        except DeliveryFailed as exc:
            return await serving.record_failed_attempt(service, delivery, attempts, exc.permanent, str(exc), now)
        if delivery.channel == "sms" and result.accepted and serving.sms_receipts:
            # the gateway took it; service takes effect when the phone's receipt comes (sms_receipt)
            await serving.store.finish(
                delivery.id, {"status": "sent", "attempts": attempts, "sent_at": now, "next_attempt_at": None}
            )
            return "sent"
        if not result.accepted:  # handed to a log or console: no proof it arrived
            await serving.store.finish(
                delivery.id, {"status": "sent", "attempts": attempts, "sent_at": now, "next_attempt_at": None}
            )
            return "sent"
        await serving.store.finish(
            delivery.id,
            {"status": "accepted", "attempts": attempts, "sent_at": now, "accepted_at": now, "next_attempt_at": None},
        )
        await serving.record_effective(service, participant.id, delivery.channel, now)
        return "accepted"

    async def _message(
        self, service: ServiceRow, participant: Participant, delivery: DeliveryRow, now: datetime
    ) -> Message:
        """The e-mail or SMS of one delivery, with a fresh personal link."""
        serving = self.serving
        case = (await serving.repo.load_case(service.case_id)).case
        doc = next(d for d in await serving.repo.documents(service.case_id) if d.id == service.document_id)
        link = await serving.cases.auth.issue_service_link(participant, service.id, LINK_TTL, now)
        url = f"{serving.base_url}/served#token={link.token}"
        to = participant.email if delivery.channel == "email" else participant.phone
        if not to:
            raise DeliveryFailed("No address is registered for this channel any more", permanent=True)
        if delivery.channel == "sms":
            text = f"【在线调解】{participant.display_name}，您好：案件{case.number}的《{service.title}》已向您电子送达，请点击查看：{url}"
            return Message("sms", to, service.title, text, now, reference=delivery.reference, kind="service")
        attachments: tuple[Attachment, ...] = ()
        if doc.size <= MAX_ATTACHMENT:
            name = "document.pdf" if doc.media_type == "application/pdf" else "document"
            attachments = (Attachment(name, doc.media_type, await serving.cases.blobs.get(doc.sha256)),)
        text = (
            f"{participant.display_name}，您好：\n\n"
            f"在线调解平台向您电子送达案件 {case.number}（{case.title}）的《{service.title}》。\n"
            + ("文书见本邮件附件；" if attachments else "")
            + f"您也可以通过以下个人链接查看和下载（请勿转发，{LINK_TTL.days} 天内有效）：\n{url}\n\n"
            "根据您的电子送达确认，本文书到达您的电子邮箱即视为送达。\n"
            f"文书 SHA-256：{doc.sha256}\n"
        )
        return Message(
            "email",
            to,
            f"【电子送达】{case.number} {service.title}",
            text,
            now,
            attachments,
            reference=delivery.reference,
            kind="service",
        )
