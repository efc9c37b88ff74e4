"""The completion certificate (电子签署完成证明): who signed the agreement, when, how each signer
proved control of their phone, e-mail or account, and the signed file's SHA-256, with the result
of checking every signature. The platform signs the certificate itself (a certifying signature:
no change allowed), so it is evidence on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from server.documents.pdf import Column, DocumentBuilder, SignatureBox
from server.domain.time import beijing_time

PLATFORM_SIGNER = "platform"
"""The signature field of the platform's own signature on the certificate."""
CHANNELS = {
    "sms": "短信验证码",
    "email": "电子邮件验证码",
    "password": "调解员账户密码",
}


@dataclass(frozen=True)
class SignedBy:
    """One signature as the certificate shows it."""

    name: str
    role: str
    signed_at: datetime
    channel: str
    """``sms``, ``email`` or ``password``; ``""`` when not recorded."""
    to: str
    """The masked phone number or e-mail address the code went to ("" for a password)."""
    timestamp_time: datetime | None
    """The time in the signature's RFC 3161 token."""
    valid: bool
    """Whether every check of this signature passed."""


@dataclass(frozen=True)
class CertificateFacts:
    """Everything the certificate states."""

    case_number: str
    case_title: str
    document_title: str
    document_id: str
    sha256: str
    size: int
    revisions: int
    signers: Sequence[SignedBy]
    problems: Sequence[str]
    """What the check of the signed file found wrong (empty: every signature valid)."""
    issued_at: datetime


def channel_words(channel: str, to: str) -> str:
    """How a signer was verified, in words."""
    words = CHANNELS.get(channel, "未记录")
    return f"{words}（{to}）" if to else words


def render_certificate(facts: CertificateFacts) -> tuple[bytes, SignatureBox]:
    """The certificate's PDF (unsigned) and the box of the platform's signature."""
    doc = DocumentBuilder(
        "电子签署完成证明",
        created_at=facts.issued_at,
        case_number=facts.case_number,
        subtitle="Certificate of completion",
        footer_note="在线调解平台",
    )
    doc.fields(
        [
            ("案由", facts.case_title),
            ("签署文件", facts.document_title),
            ("文件编号", facts.document_id),
            ("SHA-256", facts.sha256),
            ("文件大小", f"{facts.size} 字节，{facts.revisions} 个版本（原文及每一签名各一）"),
            ("出具时间", f"{beijing_time(facts.issued_at)}（北京时间）"),
        ]
    )
    doc.heading("签署情况", 2)
    doc.table(
        [
            Column("签署人", 1.5),
            Column("身份", 1.0),
            Column("签署时间（北京时间）", 1.6),
            Column("身份核验方式", 2.0),
            Column("可信时间戳", 1.6),
            Column("校验", 0.7),
        ],
        [
            [
                s.name,
                s.role,
                beijing_time(s.signed_at),
                channel_words(s.channel, s.to),
                beijing_time(s.timestamp_time),
                "有效" if s.valid else "无效",
            ]
            for s in facts.signers
        ],
    )
    doc.heading("校验结论", 2)
    if facts.problems:
        doc.paragraph("经平台校验，签署文件存在以下问题：")
        for line in facts.problems:
            doc.paragraph(line, indent=False)
    else:
        doc.paragraph(
            f"经平台校验，上述 {len(facts.signers)} 个电子签名均完整有效：每一签名覆盖其签署时的全部内容，"
            "签名证书由平台电子认证机构签发，时间戳由可信时间戳服务签发，签署后未发生签名以外的改动。"
        )
    doc.paragraph(
        "核对方法：计算所持协议文件的 SHA-256 摘要，与本证明所列数值一致，即为同一文件；"
        "亦可使用平台的签名验证服务或任何支持 PAdES 的工具（如 pdfsig）逐一校验签名。"
    )
    box = doc.signature_block(PLATFORM_SIGNER, "在线调解平台（电子签章）")
    return doc.render(), box
