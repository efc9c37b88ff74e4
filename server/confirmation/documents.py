"""The court's documents of judicial confirmation: the joint application (司法确认申请书), the notice
asking for more material (补充材料通知书) and the ruling (民事裁定书). Same input, same bytes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from server.documents.pdf import Column, DocumentBuilder, SignatureBox
from server.domain.time import BEIJING, beijing_time


def _t(when: datetime | None) -> str:
    return beijing_time(when, seconds=False)


def _d(when: datetime) -> str:
    local = when.astimezone(BEIJING)
    return f"{local.year}年{local.month}月{local.day}日"


@dataclass(frozen=True)
class Applicant:
    name: str
    role: str
    id_number: str
    """In full: the court needs the identities."""
    confirmed_at: datetime


@dataclass(frozen=True)
class ApplicationFacts:
    court: str
    case_number: str
    case_title: str
    applicants: Sequence[Applicant]
    mediator: str
    agreement_title: str
    agreement_sha256: str
    effective_at: datetime
    included: Sequence[tuple[str, str, str]]
    """(kind in words, title, SHA-256) of every document in the packet."""
    submitted_at: datetime


def render_application(f: ApplicationFacts) -> tuple[bytes, SignatureBox]:
    """The joint application; the platform seals it on the parties' recorded confirmations."""
    doc = DocumentBuilder(
        "司法确认申请书",
        created_at=f.submitted_at,
        case_number=f.case_number,
        subtitle="Application for judicial confirmation",
        footer_note="在线调解平台",
    )
    doc.paragraph(f"{f.court}：", indent=False)
    doc.table(
        [Column("申请人", 1.3), Column("身份", 1.0), Column("身份证号", 2.2), Column("在线确认时间", 1.6)],
        [[a.name, a.role, a.id_number or "—", _t(a.confirmed_at)] for a in f.applicants],
    )
    doc.heading("请求事项", 2)
    doc.paragraph(f"请求确认申请人之间于 {_d(f.effective_at)} 生效的《{f.agreement_title}》有效。")
    doc.heading("事实与理由", 2)
    doc.paragraph(
        f"申请人因{f.case_title}纠纷，经调解员{f.mediator}主持在线调解，达成调解协议（案号 {f.case_number}），"
        f"各方以可靠电子签名签署，协议自 {_t(f.effective_at)} 起生效。"
        "申请人在本协议生效之日起三十日内共同申请司法确认，并承诺：出于解决纠纷的目的自愿达成协议，"
        "没有恶意串通、规避法律的行为；如因虚假调解给他人造成损失，愿承担相应的法律责任。"
    )
    doc.heading("随附材料", 2)
    doc.table(
        [Column("材料", 1.4), Column("名称", 2.2), Column("SHA-256", 3.0)],
        [[kind, title, sha] for kind, title, sha in f.included],
    )
    doc.paragraph(f"协议文件 SHA-256：{f.agreement_sha256}", indent=False)
    doc.paragraph(f"提交时间：{_t(f.submitted_at)}（北京时间）。各申请人均已在线逐一确认本申请。", indent=False)
    box = doc.signature_block("platform", "在线调解平台（电子签章）")
    return doc.render(), box


@dataclass(frozen=True)
class RequestFacts:
    court: str
    case_number: str
    judge: str
    text: str
    due: datetime
    issued_at: datetime


def render_request(f: RequestFacts) -> tuple[bytes, SignatureBox]:
    """The court's notice asking the parties for more material."""
    doc = DocumentBuilder(
        "补充材料通知书", created_at=f.issued_at, case_number=f.case_number, subtitle=f.court, footer_note=f.court
    )
    doc.paragraph("各申请人：", indent=False)
    doc.paragraph(f"本院在审查你们的司法确认申请（{f.case_number}）过程中，需要你们补充以下材料：")
    for line in f.text.splitlines():
        if line.strip():
            doc.paragraph(line.strip())
    doc.paragraph(
        f"请于 {_t(f.due)}（北京时间）前通过在线调解平台提交。逾期未补充的，本院可以按撤回申请处理或驳回申请。"
    )
    doc.paragraph(f"审判员：{f.judge}", indent=False)
    doc.paragraph(_d(f.issued_at), indent=False, align="right")
    box = doc.signature_block("court", f"{f.court}（电子签章）")
    return doc.render(), box


@dataclass(frozen=True)
class RulingFacts:
    court: str
    case_number: str
    applicants: Sequence[tuple[str, str]]
    """(name, role)."""
    agreement_title: str
    agreement_sha256: str
    effective_at: datetime
    submitted_at: datetime
    confirmed: bool
    reasons: str
    judge: str
    ruled_at: datetime


def render_ruling(f: RulingFacts) -> tuple[bytes, SignatureBox]:
    """The ruling on the application: confirmed valid (enforceable) or rejected, with reasons."""
    doc = DocumentBuilder(
        "民事裁定书", created_at=f.ruled_at, case_number=f.case_number, subtitle=f.court, footer_note=f.court
    )
    for name, role in f.applicants:
        doc.paragraph(f"申请人：{name}（{role}）", indent=False)
    doc.paragraph(
        f"申请人于 {_t(f.submitted_at)} 向本院申请确认其于 {_d(f.effective_at)} 生效的《{f.agreement_title}》"
        f"（文件 SHA-256：{f.agreement_sha256}）的效力。本院受理后依法进行了审查，现已审查终结。"
    )
    if f.reasons.strip():
        doc.paragraph("本院经审查认为：" + f.reasons.strip())
    if f.confirmed:
        doc.paragraph(
            "申请人达成的调解协议符合司法确认的条件。依照《中华人民共和国民事诉讼法》第二百零五条、第二百零六条的规定，裁定如下："
        )
        doc.paragraph(f"申请人达成的《{f.agreement_title}》有效。", bold=True)
        doc.paragraph(
            "当事人应当按照调解协议的约定自觉履行义务。一方当事人拒绝履行或者未全部履行的，对方当事人可以向人民法院申请强制执行。"
        )
    else:
        doc.paragraph("依照《中华人民共和国民事诉讼法》第二百零六条的规定，裁定如下：")
        doc.paragraph("驳回申请人的司法确认申请。", bold=True)
        doc.paragraph("当事人可以通过调解方式变更原调解协议或者达成新的调解协议，也可以向人民法院提起诉讼。")
    doc.paragraph("本裁定书自即日起发生法律效力。")
    doc.paragraph(f"审判员：{f.judge}", indent=False, align="right")
    doc.paragraph(_d(f.ruled_at), indent=False, align="right")
    box = doc.signature_block("court", f"{f.court}（电子签章）")
    return doc.render(), box
