"""The proof of service (送达回证) of one recipient: what was served, its SHA-256, and per channel
when it was sent, accepted by the recipient's system, or failed; when service took effect, and when
the recipient opened and downloaded it. The platform seals it (a certifying signature)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from server.documents.pdf import Column, DocumentBuilder, SignatureBox
from server.domain.time import beijing_time

CHANNEL_NAMES = {"email": "电子邮件", "sms": "短信", "inbox": "平台站内信"}
STATUS_NAMES = {
    "pending": "待发送",
    "sending": "发送中",
    "sent": "已发出（未获送达回执）",
    "accepted": "已送达（对方系统已接收）",
    "retrying": "发送失败，待重试",
    "failed": "发送失败",
}


@dataclass(frozen=True)
class ChannelLine:
    channel: str
    to_masked: str
    status: str
    attempts: int
    sent_at: datetime | None
    accepted_at: datetime | None
    failed_at: datetime | None
    last_error: str


@dataclass(frozen=True)
class ProofFacts:
    case_number: str
    case_title: str
    document_title: str
    document_id: str
    sha256: str
    size: int
    recipient: str
    recipient_role: str
    served_by: str
    started_at: datetime
    deadline: datetime
    consent_at: datetime | None
    consent_channels: Sequence[str]
    channels: Sequence[ChannelLine]
    effective_at: datetime | None
    effective_channel: str | None
    opened_at: datetime | None
    downloaded_at: datetime | None
    issued_at: datetime


def render_proof(f: ProofFacts) -> tuple[bytes, SignatureBox]:
    """The proof's PDF (unsigned) and the box of the platform's seal."""
    doc = DocumentBuilder(
        "送达回证",
        created_at=f.issued_at,
        case_number=f.case_number,
        subtitle="Proof of service",
        footer_note="在线调解平台",
    )
    consent = (
        f"{beijing_time(f.consent_at)}，同意以{'、'.join(CHANNEL_NAMES.get(c, c) for c in f.consent_channels)}方式送达"
        if f.consent_at
        else "—"
    )
    doc.fields(
        [
            ("案由", f.case_title),
            ("送达文书", f.document_title),
            ("文书编号", f.document_id),
            ("SHA-256", f.sha256),
            ("文件大小", f"{f.size} 字节"),
            ("受送达人", f"{f.recipient}（{f.recipient_role}）"),
            ("电子送达确认", consent),
            ("送达人", f.served_by),
            ("送达开始", f"{beijing_time(f.started_at)}（北京时间，下同）"),
            ("送达期限", beijing_time(f.deadline)),
        ]
    )
    doc.heading("送达过程", 2)
    doc.table(
        [
            Column("方式", 1.0),
            Column("送达地址", 1.5),
            Column("状态", 1.8),
            Column("发出时间", 1.4),
            Column("到达时间", 1.4),
            Column("失败", 1.4),
        ],
        [
            [
                CHANNEL_NAMES.get(c.channel, c.channel),
                c.to_masked or "—",
                STATUS_NAMES.get(c.status, c.status) + (f"（尝试 {c.attempts} 次）" if c.attempts > 1 else ""),
                beijing_time(c.sent_at),
                beijing_time(c.accepted_at),
                (beijing_time(c.failed_at) + (f" {c.last_error}" if c.last_error else "")) if c.failed_at else "—",
            ]
            for c in f.channels
        ],
    )
    doc.heading("送达结果", 2)
    if f.effective_at:
        doc.paragraph(
            f"本文书于 {beijing_time(f.effective_at)} 以{CHANNEL_NAMES.get(f.effective_channel or '', '电子')}方式"
            "到达受送达人特定系统，依法视为送达。"
        )
    else:
        doc.paragraph("截至本回证出具时，本文书尚未到达受送达人特定系统，送达未生效。")
    doc.fields(
        [
            ("首次查阅", beijing_time(f.opened_at)),
            ("首次下载", beijing_time(f.downloaded_at)),
            ("回证出具", beijing_time(f.issued_at)),
        ]
    )
    doc.paragraph(
        "核对方法：受送达人所收文书的 SHA-256 摘要与本回证所列数值一致，即为同一文书。本回证由平台电子签章，签章后的任何改动均可被发现。"
    )
    box = doc.signature_block("platform", "在线调解平台（电子签章）")
    return doc.render(), box
