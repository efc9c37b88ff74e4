"""The record of undisputed facts (无争议事实记载) as the court receives it when mediation fails.

Case number (in every page's header), the matter, the parties, each undisputed fact, each point still
disputed, and for each party whether and when they confirmed or objected (with their note) or that
they did not answer; the reason the mediation failed, the mediator's name and the date. The platform
seals it (one certifying signature), so a later change to it is found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from server.documents.pdf import Column, DocumentBuilder, SignatureBox
from server.domain.time import BEIJING, beijing_time

ANSWER_NAMES = {"confirm": "确认", "object": "有异议"}
"""Each answer as the document names it."""
NO_ANSWER = "未答复"


@dataclass(frozen=True)
class PartyLine:
    """One party and their answer to the record."""

    name: str
    """As the case names them."""
    role: str
    """Their role in Chinese (an agent: "代理人（代理张三）")."""
    answer: str | None
    """``confirm``, ``object`` or None (did not answer)."""
    at: datetime | None
    """When they answered."""
    note: str
    """What they added."""


@dataclass(frozen=True)
class FactsDocument:
    """What the document states."""

    case_number: str
    """Printed in every page's header."""
    case_title: str
    """The matter."""
    version: int | None
    """The version of the record (None: the mediator drafted none)."""
    drafted_at: datetime | None
    """When that version was drafted."""
    facts: Sequence[str]
    """The undisputed facts."""
    disputes: Sequence[str]
    """The points still disputed."""
    parties: Sequence[PartyLine]
    """Every party, with their answer."""
    mediator: str
    """The mediator's name."""
    reason: str
    """Why the mediation failed, in the mediator's words."""
    failed_at: datetime
    """When the mediation was ended as failed (the document's date)."""


def _numbered(doc: DocumentBuilder, lines: Sequence[str], empty: str) -> None:
    if not lines:
        doc.paragraph(empty)
    for n, text in enumerate(lines, start=1):
        doc.paragraph(f"{n}. {text}")


def render_facts(f: FactsDocument) -> tuple[bytes, SignatureBox]:
    """The document's PDF (unsigned) and the box of the platform's seal."""
    doc = DocumentBuilder(
        "无争议事实记载",
        created_at=f.failed_at,
        case_number=f.case_number,
        subtitle="Record of undisputed facts" + (f" · 第 {f.version} 稿" if f.version else ""),
        footer_note="在线调解平台",
    )
    doc.fields(
        [("案号", f.case_number), ("案由", f.case_title)]
        + [(p.role, p.name) for p in f.parties]
        + [
            ("调解员", f.mediator),
            ("调解结果", "调解不成，转入诉讼程序"),
            ("调解不成的原因", f.reason or "—"),
            (
                "记载版本",
                f"第 {f.version} 稿，拟定于 {beijing_time(f.drafted_at)}（北京时间，下同）" if f.version else "未拟定",
            ),
        ]
    )
    doc.heading("一、无争议的事实", 2)
    doc.paragraph("经调解，各方当事人对下列事实没有争议：", indent=False)
    _numbered(doc, f.facts, "（无）")
    doc.heading("二、仍有争议的事项", 2)
    _numbered(doc, f.disputes, "（无）")
    doc.heading("三、当事人确认情况", 2)
    doc.table(
        [Column("当事人", 1.4), Column("身份", 1.4), Column("确认情况", 1.0), Column("时间", 1.5), Column("意见", 2.2)],
        [
            [
                p.name,
                p.role,
                ANSWER_NAMES.get(p.answer, p.answer) if p.answer else NO_ANSWER,
                beijing_time(p.at),
                p.note or "—",
            ]
            for p in f.parties
        ],
    )
    silent = [p.name for p in f.parties if p.answer is None]
    if silent:
        doc.paragraph(f"截至调解终结时，{'、'.join(silent)}未对本记载作出答复。")
    doc.paragraph(
        "各方当事人在调解过程中确认的无争议事实，在诉讼中无需另行举证；但涉及国家利益、社会公共利益、"
        "他人合法权益的事实，或者当事人为达成调解协议作出妥协而认可的事实除外。"
    )
    doc.paragraph(
        f"调解员：{f.mediator}　　日期：{f.failed_at.astimezone(BEIJING):%Y年%m月%d日}",
        indent=False,
    )
    box = doc.signature_block("platform", "在线调解平台（电子签章）")
    return doc.render(), box
