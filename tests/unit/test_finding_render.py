"""The electronic accident finding's PDF, read back by poppler's pdftotext (an independent reader)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.errors import InvalidCommand
from server.scene.finding import POLICE_SIGNER, driver_field, finding_facts, render_finding
from tests.builders import found_scene_report
from tests.pdfs import pdf_text, require_pdf_tools

require_pdf_tools()


def test_the_finding_names_the_drivers_their_shares_and_the_reasons() -> None:
    report = found_scene_report()
    pdf, boxes = render_finding(finding_facts(report, "杭州市公安局交通警察支队西湖大队", "孙警官"))
    text = pdf_text(pdf).replace(" ", "")
    for expected in (
        "道路交通事故认定书（简易程序·电子）",
        "KC-20261205-0001",
        "杭州市公安局交通警察支队西湖大队",
        "2026-12-0509:30",  # 01:30 UTC in Beijing time
        "文一路与学院路口",
        "赵一",
        "钱二",
        "330102199001011111",
        "浙A12345",
        "浙B67890",
        "中国人保",
        "平安产险",
        "主要责任",
        "次要责任",
        "70%",
        "30%",
        "变更车道未让行",
        "甲车变道时未让乙车先行",
        "人民币1,800.00元",
        "由当事人甲赵一赔偿",
        "交通警察：孙警官",
        "2026年12月05日",
    ):
        assert expected in text, expected
    assert [b.signer_id for b in boxes] == [POLICE_SIGNER, "driver1", "driver2"]
    assert [b.field_name for b in boxes[1:]] == [driver_field(1), driver_field(2)]
    assert len({b.box for b in boxes}) == 3


def test_without_an_agreed_amount_the_finding_points_to_mediation() -> None:
    report = found_scene_report()
    assert report.finding is not None
    report = replace(report, finding=replace(report.finding, agreed_amount=None, payer=None))
    text = pdf_text(render_finding(finding_facts(report, "某大队", "孙警官"))[0]).replace(" ", "")
    assert "未当场协商赔偿数额" in text
    assert "赔偿对方" not in text


def test_a_report_without_a_finding_has_no_document() -> None:
    report = replace(found_scene_report(), finding=None)
    with pytest.raises(InvalidCommand):
        finding_facts(report, "某大队", "孙警官")


def test_the_same_finding_renders_the_same_bytes() -> None:
    facts = finding_facts(found_scene_report(), "某大队", "孙警官")
    assert render_finding(facts)[0] == render_finding(facts)[0]
