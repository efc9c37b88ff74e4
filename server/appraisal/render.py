"""The appointment notice (鉴定委托通知书) of an appraisal, as the parties receive it by electronic service.

Case number (in every page's header), the matter, what is to be appraised and who asked, each party's consent,
the institution and how it was chosen (agreed by the parties, or drawn at random: the candidates, the seed and the
rule, so the draw can be redone), the fee and who pays it, the mediator and the date. The platform seals it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from server.documents.pdf import Column, DocumentBuilder, SignatureBox
from server.domain.appraisal import PAYERS, SPECIALTIES
from server.domain.time import BEIJING, beijing_time


@dataclass(frozen=True)
class ConsentLine:
    """One party's consent."""

    name: str
    """As the case names them."""
    role: str
    """Their role in Chinese."""
    at: datetime | None
    """When they agreed."""


@dataclass(frozen=True)
class AppointmentNotice:
    """What the notice states."""

    case_number: str
    case_title: str
    round: int
    """1 for the first appraisal, 2… for a re-appraisal."""
    subject: str
    """One of ``SPECIALTIES``."""
    description: str
    """What exactly is to be appraised, in the mediator's words."""
    requested_by: str
    """Who asked for it (a party's role and name, or 调解员)."""
    consents: Sequence[ConsentLine]
    institution: str
    """The institution's name."""
    choice: str
    """``agreed`` or ``drawn``."""
    candidates: Sequence[str]
    """The names of the institutions drawn from (a draw)."""
    seed: str
    """The draw's seed (a draw)."""
    fee: str
    payer: str
    mediator: str
    issued_at: datetime


def render_notice(n: AppointmentNotice) -> tuple[bytes, SignatureBox]:
    """The notice's PDF (unsigned) and the box of the platform's seal."""
    doc = DocumentBuilder(
        "鉴定委托通知书",
        created_at=n.issued_at,
        case_number=n.case_number,
        subtitle="Notice of appointment of a forensic appraisal" + (f" · 第 {n.round} 次鉴定" if n.round > 1 else ""),
        footer_note="在线调解平台",
    )
    doc.fields(
        [
            ("案号", n.case_number),
            ("案由", n.case_title),
            ("鉴定事项", f"{SPECIALTIES.get(n.subject, n.subject)}：{n.description or '—'}"),
            ("申请人", n.requested_by),
            ("鉴定机构", n.institution),
            ("选定方式", "当事人协商选定" if n.choice == "agreed" else "从鉴定机构名册中随机抽取"),
            ("鉴定费用", f"人民币 {n.fee} 元"),
            ("费用承担", PAYERS.get(n.payer, n.payer)),
            ("调解员", n.mediator),
        ]
    )
    doc.heading("一、当事人同意鉴定情况", 2)
    doc.table(
        [Column("当事人", 1.5), Column("身份", 1.5), Column("意见", 1.0), Column("时间", 2.0)],
        [[c.name, c.role, "同意", beijing_time(c.at)] for c in n.consents],
    )
    if n.choice == "drawn":
        doc.heading("二、随机抽取记录", 2)
        doc.paragraph(
            f"从名册中符合鉴定事项的 {len(n.candidates)} 家鉴定机构中随机抽取：{'、'.join(n.candidates)}。"
            f"随机种子 {n.seed}；抽取规则：将候选机构编号排序，以 SHA-256(种子|编号…) 对候选数取余，结果可复核。"
        )
    doc.heading("三、委托事项", 2)
    doc.paragraph(
        f"经各方当事人同意，现委托{n.institution}对上述事项进行鉴定。鉴定材料由调解员通过平台送交鉴定机构；"
        "鉴定机构应在平台上传加盖电子签名的鉴定意见书。当事人对鉴定意见有异议的，可说明理由申请重新鉴定。"
    )
    doc.paragraph(f"调解员：{n.mediator}　　日期：{n.issued_at.astimezone(BEIJING):%Y年%m月%d日}", indent=False)
    box = doc.signature_block("platform", "在线调解平台（电子签章）")
    return doc.render(), box
