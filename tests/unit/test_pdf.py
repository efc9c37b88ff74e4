"""PDF court documents: Chinese text, embedded font subsets, page breaks, signature boxes, same bytes.

The checks read the PDF back with poppler (``pdftotext``, ``pdffonts``,
``pdfinfo``) and need Debian's ``fonts-noto-cjk``; without either they skip on
a developer's machine and fail in CI (``CI`` set), like the PostgreSQL tests.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from server.documents.fonts import DEBIAN_NOTO_CJK, FontCandidate, FontMissing, find_fonts
from server.documents.lines import wrap_text
from server.documents.pdf import (
    AUTHOR,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_RIGHT,
    MARGIN_TOP,
    PAGE_H,
    PAGE_W,
    SIGNATURE_BOX_MM,
    Column,
    DocumentBuilder,
    SignatureBox,
)
from server.errors import MediationError

REPO = Path(__file__).resolve().parents[2]
K = 72 / 25.4  # points per millimetre
BEIJING = timezone(timedelta(hours=8))
CREATED = datetime(2025, 5, 1, 10, 30, tzinfo=BEIJING)
LONG_TAIL = "以上协议内容系双方真实意思表示本句为长段落的结尾"
LONG_PARAGRAPH = (
    "2025年3月1日8时许，被申请人投保的京A12345号小型轿车在朝阳区建国路与东三环路交叉口处与申请人驾驶的电动自行车发生碰撞，"
    "造成申请人受伤、车辆损坏。经交通管理部门认定，机动车一方负事故全部责任。申请人住院治疗 21 天，"
    "支出医疗费 38,456.20 元，经鉴定构成十级伤残。双方当事人在调解员主持下，本着平等自愿、互谅互让的原则，"
    "就赔偿事宜达成如下协议，" + LONG_TAIL + "。"
)
MONEY_ROWS = 24


def _tools_missing() -> str | None:
    missing = [tool for tool in ("pdftotext", "pdffonts", "pdfinfo") if shutil.which(tool) is None]
    if missing:
        return f"poppler-utils missing: {', '.join(missing)}"
    try:
        find_fonts()
    except FontMissing as exc:
        return str(exc)
    return None


_MISSING = _tools_missing()
if _MISSING is not None:
    if os.environ.get("CI"):
        pytest.fail(_MISSING, pytrace=False)
    pytest.skip(_MISSING, allow_module_level=True)


def build_agreement(created_at: datetime = CREATED) -> DocumentBuilder:
    """The mediation agreement the tests read back (also imported by the subprocess test)."""
    b = DocumentBuilder(
        "调解协议书",
        created_at=created_at,
        case_number="（2025）京0105民调1234号",
        subtitle="机动车交通事故责任纠纷",
        footer_note="本协议书自各方当事人签名之日起生效",
    )
    b.heading("一、当事人")
    b.fields(
        [
            ("申请人", "张三，男，1980年1月1日出生，汉族，住北京市朝阳区某某街道某某小区1号楼2单元301室"),
            ("被申请人", "中国人民财产保险股份有限公司北京市分公司"),
            ("委托代理人", "李四，北京某某律师事务所律师"),
        ]
    )
    b.heading("二、事实与协议内容")
    b.paragraph(LONG_PARAGRAPH)
    b.heading("三、赔偿项目及金额", level=2)
    items = ["医疗费", "误工费", "护理费", "交通费", "住院伙食补助费", "营养费"]
    rows = [
        [str(i), items[i % len(items)], f"依据票据及《北京市人身损害赔偿标准》第{i}项计算", f"{i * 1234:,}.{i:02d}"]
        for i in range(1, MONEY_ROWS + 1)
    ]
    b.table(
        [
            Column("序号", 0.6, "center"),
            Column("项目", 1.3),
            Column("计算依据", 3.0),
            Column("金额（元）", 1.4, "right"),
        ],
        rows,
        total_row=["", "合计", "", "370,200.00"],
    )
    b.paragraph("被申请人于本协议生效之日起十五日内将上述款项一次性支付至申请人指定账户。")
    b.signature_block("party-1", "申请人 张三")
    b.signature_block("party-2", "被申请人 中国人民财产保险股份有限公司北京市分公司")
    return b


@dataclass(frozen=True)
class Rendered:
    builder: DocumentBuilder
    data: bytes
    path: Path


@dataclass(frozen=True)
class Word:
    page: int  # 0-based
    text: str
    x1: float
    y1: float
    x2: float
    y2: float  # points, origin top-left, as pdftotext -bbox gives them


def _run(*args: str | Path) -> str:
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def _words(path: Path) -> list[Word]:
    out = _run("pdftotext", "-bbox", path, "-")
    words: list[Word] = []
    for page, body in enumerate(re.findall(r"<page [^>]*>(.*?)</page>", out, re.S)):
        for x1, y1, x2, y2, text in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', body
        ):
            words.append(Word(page, text, float(x1), float(y1), float(x2), float(y2)))
    return words


def _page_text(path: Path, page: int | None = None) -> str:
    pages = ("-f", str(page), "-l", str(page)) if page is not None else ()
    return _run("pdftotext", "-layout", *pages, path, "-")


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def agreement(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    builder = build_agreement()
    data = builder.render()
    path = tmp_path_factory.mktemp("pdf") / "agreement.pdf"
    path.write_bytes(data)
    return Rendered(builder, data, path)


def test_chinese_text_extracts(agreement: Rendered) -> None:
    text = _page_text(agreement.path)
    for expected in ("调解协议书", "医疗费", "住院伙食补助费", "金额（元）", "370,200.00", "签名 / Signature"):
        assert expected in text
    flat = _squeeze(text)
    assert _squeeze(LONG_TAIL) in flat  # the end of a paragraph that wraps over several lines
    assert "38,456.20" in text  # numbers are never broken across lines
    assert "（2025）京0105民调1234号" in text


def test_page_count_and_footer(agreement: Rendered) -> None:
    info = _run("pdfinfo", agreement.path)
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]
    assert pages == agreement.builder.page_count >= 2
    for n in range(1, pages + 1):
        page = _squeeze(_page_text(agreement.path, n))
        assert f"第{n}页/共{pages}页" in page
        assert "（2025）京0105民调1234号" in page  # case number in every header
        assert "本协议书自各方当事人签名之日起生效" in page
    assert "第2页" in _squeeze(_page_text(agreement.path))
    # the money table broke over the page and its heading row came with it
    second = _page_text(agreement.path, 2)
    assert "金额（元）" in second and "合计" in second


def test_font_embedded_as_subset(agreement: Rendered) -> None:
    rows = _run("pdffonts", agreement.path).splitlines()[2:]
    assert rows, "no fonts listed"
    for row in rows:
        cols = row.split()
        name, emb, sub, uni = cols[0], cols[-5], cols[-4], cols[-3]
        assert (emb, sub, uni) == ("yes", "yes", "yes"), row
        assert re.match(r"[A-Z]{6}\+Noto", name), row
    assert any("NotoSerifCJKSC" in row and "Bold" not in row for row in rows)
    assert len(agreement.data) < 300_000  # subset, not the 20 MB collection


def test_metadata(agreement: Rendered) -> None:
    info = _run("pdfinfo", agreement.path)
    assert re.search(r"^Title:\s+调解协议书$", info, re.M)
    assert re.search(rf"^Author:\s+{AUTHOR}$", info, re.M)
    assert "Page size:       595.28 x 841.89 pts (A4)" in info
    assert b"/CreationDate (D:20250501103000+08'00')" in agreement.data
    assert b"/Lang (zh-CN)" in agreement.data


def test_same_input_same_bytes(agreement: Rendered) -> None:
    again = build_agreement().render()
    assert again == agreement.data
    trailer_id = re.search(rb"/ID \[<([0-9A-F]{32})><\1>\]", agreement.data)
    assert trailer_id is not None
    # another process with another hash seed: still the same bytes
    code = "import sys; from tests.unit.test_pdf import build_agreement; sys.stdout.buffer.write(build_agreement().render())"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True, capture_output=True).stdout
    assert hashlib.sha256(out).hexdigest() == hashlib.sha256(agreement.data).hexdigest()
    # the date is part of the content and of the file ID
    later = build_agreement(CREATED + timedelta(seconds=1)).render()
    assert later != agreement.data
    later_id = re.search(rb"/ID \[<([0-9A-F]{32})>", later)
    assert later_id is not None and later_id.group(1) != trailer_id.group(1)


def _inside_body(box: SignatureBox) -> bool:
    x1, y1, x2, y2 = box.box
    return (
        MARGIN_LEFT * K - 0.01 <= x1 < x2 <= (PAGE_W - MARGIN_RIGHT) * K + 0.01
        and MARGIN_BOTTOM * K - 0.01 <= y1 < y2 <= (PAGE_H - MARGIN_TOP) * K + 0.01
    )


def _words_inside(words: list[Word], box: SignatureBox) -> list[Word]:
    x1, y1, x2, y2 = box.box
    top, bottom = PAGE_H * K - y2, PAGE_H * K - y1
    return [w for w in words if w.page == box.page and w.x2 > x1 and w.x1 < x2 and w.y2 > top and w.y1 < bottom]


def test_signature_boxes(agreement: Rendered) -> None:
    boxes = agreement.builder.boxes
    assert [b.signer_id for b in boxes] == ["party-1", "party-2"]
    assert [b.field_name for b in boxes] == ["Signature_party-1", "Signature_party-2"]
    width, height = SIGNATURE_BOX_MM
    for b in boxes:
        assert 0 <= b.page < agreement.builder.page_count
        assert _inside_body(b), b
        assert b.box[2] - b.box[0] == pytest.approx(width * K, abs=0.02)
        assert b.box[3] - b.box[1] == pytest.approx(height * K, abs=0.02)
    a, c = (b.box for b in boxes)
    assert a[2] <= c[0] or c[2] <= a[0] or a[3] <= c[1] or c[3] <= a[1], "signature boxes overlap"
    words = _words(agreement.path)
    assert any(w.text == "张三" for w in words)
    for b in boxes:
        assert _words_inside(words, b) == [], b
        # the caption is on the same page, just under the box
        caption = [w for w in words if w.page == b.page and w.text == "签名" and abs(w.x1 - b.box[0]) < 1]
        assert caption and PAGE_H * K - b.box[1] < caption[0].y1 < PAGE_H * K - b.box[1] + 20


def test_signature_block_moves_to_next_page_whole(tmp_path: Path) -> None:
    b = DocumentBuilder("调解笔录", created_at=CREATED, case_number="（2025）京0105民调1号")
    while b.space_left() > SIGNATURE_BOX_MM[1] + 5:
        b.paragraph("调解员宣布调解纪律，双方当事人表示清楚。")
    left = b.space_left()
    assert 10 < left < SIGNATURE_BOX_MM[1] + 5  # room for part of the block, not for all of it
    pages_before = b.page_count
    box = b.signature_block("mediator", "调解员 王五")
    assert b.page_count == pages_before + 1
    assert box.page == pages_before  # 0-based: the new page
    assert box.box[3] == pytest.approx((PAGE_H - MARGIN_TOP) * K, abs=0.01)  # top of the text block
    path = tmp_path / "record.pdf"
    path.write_bytes(b.render())
    words = _words(path)
    assert not [w for w in words if w.page == pages_before - 1 and w.text in ("签名", "日期")]
    assert {"签名", "日期"} <= {w.text for w in words if w.page == box.page}
    assert _words_inside(words, box) == []


def test_side_by_side_and_new_row(tmp_path: Path) -> None:
    b = DocumentBuilder("送达回证", created_at=CREATED)
    b.paragraph("受送达人签收。")
    one, two, three = (b.signature_block(f"s{i}", f"受送达人{i}") for i in range(3))
    assert one.box[1] == two.box[1] and one.box[2] < two.box[0]  # a row: level, left then right
    assert three.box[3] < one.box[1]  # the third starts a new row below
    b.paragraph("以下无正文。")
    with pytest.raises(ValueError, match="s1"):
        b.signature_block("s1", "again")
    path = tmp_path / "service.pdf"
    path.write_bytes(b.render())
    words = _words(path)
    for box in (one, two, three):
        assert _words_inside(words, box) == []
    tail = next(w for w in words if w.text.startswith("以下无正文"))
    assert tail.y1 > PAGE_H * K - three.box[1]  # text after the blocks comes below them


def test_transcript_lines(tmp_path: Path) -> None:
    b = DocumentBuilder("调解笔录", created_at=CREATED, case_number="（2025）京0105民调7号")
    b.transcript_line(1, "调解员", "10:02:15", "现在开始调解。请申请人陈述请求。")
    b.transcript_line(2, "申请人 张三", "10:03:01", "要求赔偿医疗费" * 20, corrected=True, note="经核对录音更正")
    path = tmp_path / "record.pdf"
    path.write_bytes(b.render())
    text = _page_text(path)
    assert "调解员 10:02:15：现在开始调解" in text
    assert "申请人 张三 10:03:01（已更正）：" in text
    assert "注：经核对录音更正" in text
    assert _squeeze(text).count("要求赔偿医疗费") == 20


def test_row_taller_than_a_page_continues(tmp_path: Path) -> None:
    b = DocumentBuilder("调解笔录", created_at=CREATED)
    b.table([Column("事项", 1), Column("陈述", 4)], [])  # an empty table still shows its heading row
    b.table(
        [Column("事项", 1), Column("陈述", 4)], [["申请人陈述", "申请人称事故发生后即送医治疗。" * 120], ["结论", "无"]]
    )
    path = tmp_path / "tall.pdf"
    path.write_bytes(b.render())
    assert b.page_count >= 2
    text = _squeeze(_page_text(path))
    assert text.count("治") == 120  # nothing lost at the page breaks (header and footer cut the phrase there)
    assert text.count("陈述") >= 3 + b.page_count - 1  # heading row on every page of the table


def test_rendered_document_is_frozen() -> None:
    b = DocumentBuilder("民事裁定书", created_at=CREATED)
    b.paragraph("确认调解协议有效。")
    first = b.render()
    assert b.render() is first
    with pytest.raises(RuntimeError):
        b.paragraph("之后的内容")


def test_created_at_needs_a_time_zone() -> None:
    with pytest.raises(ValueError, match="timezone"):
        DocumentBuilder("调解笔录", created_at=datetime(2025, 5, 1, 10, 0))


def test_table_rows_must_match_columns() -> None:
    with DocumentBuilder("调解协议书", created_at=CREATED) as b, pytest.raises(ValueError, match="2 cells"):
        b.table([Column("项目"), Column("金额", align="right")], [["医疗费"]])
    with pytest.raises(RuntimeError, match="closed"):
        b.paragraph("关闭之后")


# --- fonts --------------------------------------------------------------------


def test_font_missing_names_the_package(tmp_path: Path) -> None:
    missing = tmp_path / "NoSuchFont-Regular.ttc"
    with pytest.raises(FontMissing) as info:
        find_fonts(missing, candidates=[FontCandidate(tmp_path / "also-missing.ttc")])
    message = str(info.value)
    assert "fonts-noto-cjk" in message and str(missing) in message and "also-missing.ttc" in message
    assert isinstance(info.value, MediationError)
    assert info.value.code == "font_missing" and info.value.status == 500
    with pytest.raises(FontMissing, match="fonts-noto-cjk"):
        DocumentBuilder("调解笔录", created_at=CREATED, font_path=missing, font_candidates=())


def test_configured_font_first_then_fallback(tmp_path: Path) -> None:
    serif = DEBIAN_NOTO_CJK[0]
    fonts = find_fonts(tmp_path / "missing.otf")
    assert fonts.regular.path == serif.regular and fonts.bold.path == serif.bold
    # the Simplified Chinese face of the collection, not the Japanese face 0
    assert fonts.regular.index != 0
    sans = DEBIAN_NOTO_CJK[1].regular
    assert find_fonts(sans).regular.path == sans
    assert find_fonts(sans).bold.path == DEBIAN_NOTO_CJK[1].bold  # the "Bold" sibling


def test_unusable_font_file_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.ttf"
    fake.write_bytes(b"not a font at all")
    with pytest.raises(FontMissing, match="cannot be read"):
        find_fonts(fake)
    pickled = tmp_path / "font.pkl"
    pickled.write_bytes(b"")
    with pytest.raises(FontMissing, match="OpenType or TrueType"):
        find_fonts(pickled)


# --- line breaking ------------------------------------------------------------


def _unit(text: str) -> float:
    return float(len(text))


def test_wrap_breaks_between_han_characters() -> None:
    lines = wrap_text("一二三四五六七八九十", _unit, 4)
    assert [line.text for line in lines] == ["一二三四", "五六七八", "九十"]
    assert wrap_text("一二三四五六", _unit, 4, first_width=2)[0].text == "一二"


def test_wrap_keeps_punctuation_and_numbers() -> None:
    def texts(text: str, width: float) -> list[str]:
        return [line.text for line in wrap_text(text, _unit, width)]

    assert texts("甲乙丙，丁戊", 3) == ["甲乙", "丙，丁", "戊"]  # no line starts with a comma
    assert texts("甲乙“丙”丁", 3) == ["甲乙", "“丙”", "丁"]  # nor ends with an opening quote
    assert texts("赔偿金额12,345.00元", 10) == ["赔偿金额", "12,345.00元"]  # a number stays whole
    assert texts("赔偿 12,000 元", 10) == ["赔偿 12,000", "元"]
    assert texts("时间10:02:15开始", 8) == ["时间", "10:02:15", "开始"]


def test_wrap_breaks_an_overlong_word_by_characters() -> None:
    assert [line.text for line in wrap_text("abcdefghij", _unit, 4)] == ["abcd", "efgh", "ij"]
    assert [line.text for line in wrap_text("", _unit, 4)] == [""]


def test_page_images_refuse_a_file_pdfium_cannot_read_with_a_clear_error() -> None:
    # issue 12 item 9: PdfiumError escaped as a 500 from the page-image endpoints
    from server.documents.pages import PageImages
    from server.errors import InvalidCommand

    images = PageImages()
    for broken in (b"%PDF-1.7\nnot really", b"\x00" * 64):
        with pytest.raises(InvalidCommand):
            images.layout("0" * 64 + broken.hex()[:8], broken)


def test_verification_of_a_deeply_nested_pdf_is_a_report_not_a_crash() -> None:
    # issue 12 item 9: objects nested 5,000 deep (10 KB) raised RecursionError (a 500)
    from e_sign.verify import verify_pdf

    nested = b"[" * 5000 + b"]" * 5000
    body = b"%PDF-1.7\n"
    first = len(body)
    body += b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R /X " + nested + b" >>\nendobj\n"
    second = len(body)
    body += b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    xref = len(body)
    body += b"xref\n0 3\n0000000000 65535 f \n%010d 00000 n \n%010d 00000 n \n" % (first, second)
    body += b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    report = verify_pdf(body, [])
    assert not report.ok and "not a readable PDF" in report.problems[0]


def test_pages_are_drawn_safely_from_many_threads_at_once(agreement: Rendered) -> None:
    """PDFium is not thread-safe: a phone asks for several pages at once and each is drawn in a worker
    thread. Without the process-wide lock, 3 tries of this test: one crashed the test process (PDFium's
    fatal error), one drew wrong images or failed, one passed; the CI run died of int3 in libpdfium.so."""
    from concurrent.futures import ThreadPoolExecutor

    from server.documents.pages import PageImages

    pages = len(PageImages().layout("x", agreement.data))
    jobs = [(page, width) for page in range(1, pages + 1) for width in (240, 360, 480, 720)] * 12

    def draw(job: tuple[int, int]) -> tuple[tuple[int, int], bytes]:
        images = PageImages(capacity=0)  # no cache: every call goes into PDFium
        return job, images.png(f"doc-{job}", agreement.data, *job)

    with ThreadPoolExecutor(max_workers=8) as pool:
        drawn = list(pool.map(draw, jobs))
    by_job: dict[tuple[int, int], set[bytes]] = {}
    for job, png in drawn:
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        by_job.setdefault(job, set()).add(png)
    assert all(len(images) == 1 for images in by_job.values())  # the same page, the same image, every time
