"""The mediation agreement (调解协议书) as a PDF: parties, facts, the compensation table, the
obligations, further terms, and one signature box per signer (the mediator last).

The boxes are where the signers' PAdES signatures will show their marks; the
same terms, version and time give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from server.agreement.terms import AgreementTerms
from server.documents.pdf import Column, DocumentBuilder, SignatureBox
from server.domain.compensation import Split
from server.domain.participants import Participant, mask_id_number
from server.domain.roles import Role, role_name
from server.domain.time import beijing_time

SIGNING_ROLES = (Role.APPLICANT, Role.RESPONDENT, Role.INSURER)
"""Who signs the agreement besides the mediator (agents sign for their party in a later issue)."""
CLOSING = (
    "本协议经各方当事人签名（电子签名）并经调解员签名后生效。各方当事人应当按照约定履行。",
    "各方当事人可以自本协议生效之日起三十日内，共同向有管辖权的人民法院申请司法确认。",
    "本协议以电子文件形式签署，每一签名均附有可信时间戳；签署后对本文件的任何改动均可被验证发现。",
)


def signers(participants: Sequence[Participant]) -> list[Participant]:
    """The signers in signing order: parties by role, then the mediator last."""
    parties = [p for role in SIGNING_ROLES for p in participants if p.role is role]
    mediators = [p for p in participants if p.role is Role.MEDIATOR][:1]
    return parties + mediators


def render_agreement(
    *,
    case_number: str,
    title: str,
    participants: Sequence[Participant],
    terms: AgreementTerms,
    split: Split | None,
    version: int,
    drafted_at: datetime,
) -> tuple[bytes, tuple[SignatureBox, ...]]:
    """The agreement's PDF and its signature boxes (in signing order)."""
    doc = DocumentBuilder(
        "调解协议书",
        created_at=drafted_at,
        case_number=case_number,
        subtitle=f"Mediation agreement · 第 {version} 稿",
        footer_note="在线调解平台",
    )
    doc.fields(
        [("案由", title)]
        + [
            (
                role_name(p.role),
                p.display_name + (f"（身份证号 {mask_id_number(p.id_number)}）" if p.id_number else ""),
            )
            for p in participants
            if p.role in SIGNING_ROLES or p.role is Role.MEDIATOR
        ]
    )
    doc.heading("一、基本事实", 2)
    doc.paragraph(terms.facts)
    section = 2
    numbers = "一二三四五六七八九十"
    if split is not None:
        doc.heading(f"{numbers[section - 1]}、赔偿项目及分担", 2)
        rows = split.as_rows()
        header, body, total = rows[0], rows[1:-1], rows[-1]
        columns = [Column(header[0], 2.2), Column(header[1], 1.2), Column(header[2], 1.3, "right")] + [
            Column(h, 1.3, "right") for h in header[3:]
        ]
        doc.table(columns, body, total_row=total)
        for line in split.explanation:
            doc.paragraph(line, indent=False)
        section += 1
    if terms.obligations:
        doc.heading(f"{numbers[section - 1]}、履行方式", 2)
        doc.table(
            [
                Column("付款方", 1.5),
                Column("收款方", 1.5),
                Column("金额（元）", 1.3, "right"),
                Column("期限", 1.2),
                Column("方式", 1.5),
            ],
            [[o.payer, o.payee, str(o.amount), o.due.isoformat(), o.method] for o in terms.obligations],
        )
        section += 1
    doc.heading(f"{numbers[section - 1]}、其他约定", 2)
    for n, term in enumerate((*terms.other_terms, *CLOSING), start=1):
        doc.paragraph(f"{n}. {term}")
    doc.paragraph(f"本稿拟定时间：{beijing_time(drafted_at, seconds=False)}（北京时间）。", indent=False)
    boxes = tuple(doc.signature_block(p.id, f"{p.display_name}（{role_name(p.role)}）") for p in signers(participants))
    return doc.render(), boxes
