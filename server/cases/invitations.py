"""Inviting a person to their case: a fresh join link, sent by SMS or e-mail from the mediator's desk.

The link is reissued (the person's older join links stop working: whoever holds a
forwarded one is out) and sent to the contact recorded for the person; the message
names the case and when the link expires, and asks not to forward it. The audit trail
records that an invitation went out, by which channel and whether the channel took it,
never the address, the number or the link.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from server.cases.usecases import CaseService
from server.domain.roles import Action, role_name
from server.domain.time import beijing_time
from server.errors import DeliveryFailed, InvalidCommand, TooManyAttempts
from server.identity.access import Principal
from server.notify import Message, Notifier, mask_address
from server.store.repository import AuditRecord

Channel = Literal["sms", "email"]

MAX_PER_HOUR = 5
"""Invitations one person may be sent in an hour (each SMS costs money and lands on someone's phone)."""


class Invitations:
    """Sends people their join links."""

    def __init__(self, cases: CaseService, notifier: Notifier, base_url: str) -> None:
        self.cases = cases
        self.notifier = notifier
        self.base_url = base_url.rstrip("/")

    async def _within_limit(self, case_id: str, participant_id: str, now: datetime) -> None:
        """TooManyAttempts (429 with Retry-After) once the person was sent MAX_PER_HOUR invitations in the last hour."""
        entries, _ = await self.cases.repo.audit_trail(case_id)
        hour_ago = now - timedelta(hours=1)
        sent = sorted(
            at
            for e in entries
            if e.action == "participant.invited"
            and e.details_dict().get("participant_id") == participant_id
            and (at := datetime.fromisoformat(e.at)) > hour_ago
        )
        if len(sent) >= MAX_PER_HOUR:
            wait = max(1, int((sent[-MAX_PER_HOUR] + timedelta(hours=1) - now).total_seconds()) + 1)
            raise TooManyAttempts(f"This person was sent {len(sent)} invitations in the last hour", retry_after=wait)

    async def invite(
        self, principal: Principal, case_id: str, participant_id: str, channel: Channel, now: datetime
    ) -> dict[str, Any]:
        """Reissue the person's join link and send it; DeliveryFailed (after recording it) if the channel refused."""
        await self.cases.require(principal, case_id, Action.MANAGE_LINKS)
        participant = await self.cases.repo.participant(participant_id)
        if participant.case_id != case_id:
            raise InvalidCommand("No such participant on this case")
        to = participant.phone if channel == "sms" else participant.email
        if not to:
            raise InvalidCommand(
                "This person has no mobile number on the case"
                if channel == "sms"
                else "This person has no e-mail address on the case"
            )
        await self._within_limit(case_id, participant.id, now)
        loaded = await self.cases.repo.load_case(case_id)
        issued = await self.cases.reissue_link(principal, case_id, participant_id, now)
        url = f"{self.base_url}/join#token={issued.token}"
        case = loaded.case
        text = (
            f"{participant.display_name}（{role_name(participant.role)}）您好：\n"
            f"{case.number}号案件（{case.title}）邀请您参加在线调解。请用手机浏览器打开下面的链接，"
            f"查看案件、检查摄像头和麦克风并进入调解室：\n{url}\n"
            f"链接有效期至 {beijing_time(issued.expires_at)}，仅供您本人使用，请勿转发。"
        )
        message = Message(channel, to, f"案件 {case.number} 在线调解邀请", text, now, kind="invitation")
        details: dict[str, Any] = {"participant_id": participant.id, "channel": channel}
        try:
            delivery = await self.notifier.send(message)
        except DeliveryFailed:
            await self.cases.repo.record(
                case_id, [AuditRecord(principal.actor, "participant.invited", {**details, "accepted": False})], now
            )
            raise
        await self.cases.repo.record(
            case_id,
            [AuditRecord(principal.actor, "participant.invited", {**details, "accepted": delivery.accepted})],
            now,
        )
        return {
            "participant_id": participant.id,
            "channel": channel,
            "to": mask_address(channel, to),
            "accepted": delivery.accepted,
            "sent_at": now.isoformat(),
            "expires_at": issued.expires_at.isoformat(),
        }
