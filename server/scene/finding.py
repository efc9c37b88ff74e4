"""The electronic accident finding (道路交通事故认定书（简易程序·电子）) as a PDF.

One page (two for long facts): the finding's number, the police unit, when and where the accident
happened, each driver (name, driving licence number, plate, insurer), the facts, each driver's
liability (:data:`~server.domain.scene.LIABILITY_NAMES`) and share, the reasons, the compensation the
drivers agreed and who pays it (if they agreed one), the officer and the date (Beijing time), then
three signature boxes: the police unit's seal (the platform certifies the document in it for the
unit) and one per driver. :func:`render_finding` is pure and CPU-bound (about a second: fonts):
call it from a worker thread (``server.scene.finding_signing`` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from server.documents.pdf import Column, DocumentBuilder, SignatureBox
from server.domain.scene import LIABILITY_NAMES, SceneReport
from server.domain.time import BEIJING, beijing_time
from server.errors import InvalidCommand

TITLE = "道路交通事故认定书（简易程序·电子）"
POLICE_SIGNER = "police"
"""The signer id of the police unit's seal box (its field: ``Signature_police``)."""
DRIVER_LABELS = {1: "当事人甲", 2: "当事人乙"}
"""How the document names driver 1 (who started the report) and driver 2."""


def driver_signer(number: int) -> str:
    """The signer id of driver ``number``'s box (its field: ``Signature_driver1`` …)."""
    return f"driver{number}"


def driver_field(number: int) -> str:
    """The PDF signature field of driver ``number``."""
    return SignatureBox(driver_signer(number), "", 0, (0, 0, 0, 0)).field_name


@dataclass(frozen=True)
class DriverLine:
    """One driver as the finding names them (personal data: never logged)."""

    number: int
    """1 or 2."""
    name: str
    licence_number: str
    plate: str
    insurer: str
    liability: str
    """The liability's name in Chinese (全部责任 …)."""
    share: int
    """Percent of the compensation this driver bears."""


@dataclass(frozen=True)
class FindingFacts:
    """What the finding states."""

    number: str
    """The finding's number (the report's number)."""
    unit_name: str
    """The police unit that made it."""
    occurred_at: datetime
    """When the accident happened."""
    place: str
    """Where."""
    drivers: Sequence[DriverLine]
    """Both drivers, in number order."""
    facts: str
    """The facts of the accident (事故事实)."""
    reasons: str
    """The reasons of the finding (认定理由)."""
    agreed_amount: Decimal | None
    """The compensation both drivers agreed (yuan), if any."""
    payer: str
    """Who pays it ("当事人甲 张三"), "" when none was agreed."""
    officer_name: str
    """The officer who made the finding."""
    made_at: datetime
    """When the finding was made (the document's date)."""


def finding_facts(report: SceneReport, unit_name: str, officer_name: str) -> FindingFacts:
    """The facts of ``report``'s finding; InvalidCommand when it has none yet."""
    finding = report.finding
    if finding is None:
        raise InvalidCommand("The report has no liability finding yet")
    drivers = [
        DriverLine(
            d.number,
            d.name,
            d.licence_number,
            d.plate,
            d.insurer,
            LIABILITY_NAMES[finding.liabilities[d.number]],
            finding.shares[d.number],
        )
        for d in sorted(report.drivers, key=lambda d: d.number)
    ]
    payer = ""
    if finding.payer is not None:
        payer = f"{DRIVER_LABELS.get(finding.payer, str(finding.payer))} {report.driver(finding.payer).name}"
    return FindingFacts(
        number=report.number,
        unit_name=unit_name,
        occurred_at=report.occurred_at,
        place=report.place,
        drivers=drivers,
        facts=finding.facts,
        reasons=finding.reasons,
        agreed_amount=finding.agreed_amount,
        payer=payer,
        officer_name=officer_name,
        made_at=finding.made_at,
    )


def yuan(amount: Decimal) -> str:
    """An amount as the document prints it: ``人民币 1,234.50 元``."""
    return f"人民币 {amount.quantize(Decimal('0.01')):,} 元"


def render_finding(f: FindingFacts) -> tuple[bytes, list[SignatureBox]]:
    """The finding's PDF (unsigned) and its boxes: the police unit's seal first, then driver 1, driver 2."""
    doc = DocumentBuilder(
        TITLE,
        created_at=f.made_at,
        case_number=f"第 {f.number} 号",
        subtitle="Road traffic accident finding (simplified procedure, electronic)",
        footer_note=f.unit_name,
    )
    try:
        doc.fields(
            [
                ("编号", f.number),
                ("认定机关", f.unit_name),
                ("事故时间", beijing_time(f.occurred_at, seconds=False) + "（北京时间）"),
                ("事故地点", f.place),
            ]
        )
        doc.heading("一、当事人", 2)
        doc.table(
            [
                Column("当事人", 1.0),
                Column("姓名", 1.0),
                Column("驾驶证号", 1.9),
                Column("号牌号码", 1.2),
                Column("保险公司", 1.9),
            ],
            [
                [DRIVER_LABELS.get(d.number, str(d.number)), d.name, d.licence_number, d.plate, d.insurer]
                for d in f.drivers
            ],
        )
        doc.heading("二、事故事实", 2)
        doc.paragraph(f.facts)
        doc.heading("三、责任认定", 2)
        doc.table(
            [Column("当事人", 1.0), Column("姓名", 1.2), Column("责任", 1.2), Column("承担比例", 1.0, "right")],
            [[DRIVER_LABELS.get(d.number, str(d.number)), d.name, d.liability, f"{d.share}%"] for d in f.drivers],
        )
        doc.paragraph(f"认定理由：{f.reasons}")
        doc.heading("四、损害赔偿", 2)
        if f.agreed_amount is not None:
            doc.paragraph(f"经双方当事人协商，由{f.payer}赔偿对方{yuan(f.agreed_amount)}。")
        else:
            doc.paragraph("双方当事人未当场协商赔偿数额，可以申请调解或者依法向人民法院提起民事诉讼。")
        doc.paragraph(
            "当事人对本认定书有异议的，可以自收到之日起三日内向上一级公安机关交通管理部门提出书面复核申请。"
            "当事人签字即表示已阅读本认定书并收到其电子文本。"
        )
        made = f.made_at.astimezone(BEIJING)
        doc.paragraph(f"交通警察：{f.officer_name}　　日期：{made:%Y年%m月%d日}", indent=False)
        boxes = [doc.signature_block(POLICE_SIGNER, f"{f.unit_name}（电子印章）")]
        boxes += [
            doc.signature_block(driver_signer(d.number), f"{DRIVER_LABELS.get(d.number, str(d.number))} {d.name}")
            for d in f.drivers
        ]
        return doc.render(), boxes
    finally:
        doc.close()
