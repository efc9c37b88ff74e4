"""The mediation record (调解笔录) as a PDF, through ``server.documents.pdf``.

Times are shown in China Standard Time (the record is read by Chinese courts);
each line carries its speaker, time and current text, marked when corrected,
with the mediator's notes beneath. The closing paragraph says how the record
was made, and the audit trail keeps the PDF's hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from recording.record import SessionRecord
from server.documents.pdf import DocumentBuilder
from server.domain.roles import role_name
from server.domain.time import BEIJING, beijing_time


def _cst(text: str | None) -> str:
    if not text:
        return "—"
    return beijing_time(datetime.fromisoformat(text), seconds=False)


def render_record(case: dict[str, Any], record: SessionRecord, finalised_at: datetime) -> bytes:
    """The finalised record of one session as PDF bytes (same input, same bytes)."""
    session: dict[str, Any] = next((s for s in case.get("sessions", []) if s["id"] == record.session_id), {})
    doc = DocumentBuilder(
        "调解笔录",
        created_at=finalised_at,
        case_number=case.get("number") or None,
        subtitle="Mediation record",
        footer_note="在线调解平台 · 语音转写经调解员核对",
    )
    people = case.get("participants", [])
    mediators = [p["display_name"] for p in people if p.get("role") == "mediator"]
    attendees = sorted({r.speaker for r in record.lines if r.speaker})
    doc.fields(
        [
            ("案由", str(case.get("title", ""))),
            ("开始时间", _cst(session.get("started_at"))),
            ("结束时间", _cst(session.get("ended_at"))),
            ("地点", "在线视频调解"),
            ("调解员", "、".join(mediators) or "—"),
            (
                "参加人员",
                "、".join(f"{p['display_name']}（{role_name(p['role'])}）" for p in people) or "—",
            ),
            ("发言人", "、".join(attendees) or "—"),
        ]
    )
    doc.heading("笔录内容", 2)
    notes_after: dict[str | None, list[str]] = {}
    for note in record.notes:
        notes_after.setdefault(note.line_id, []).append(note.text)
    if not record.lines:
        doc.paragraph("本次调解未形成语音转写记录。")
    for number, line in enumerate(record.lines, start=1):
        role = role_name(line.role)
        speaker = f"{line.speaker}（{role}）" if role else line.speaker
        time = line.line.started_at.astimezone(BEIJING).strftime("%H:%M:%S")
        notes = notes_after.get(line.line.id)
        doc.transcript_line(
            number, speaker, time, line.text, corrected=bool(line.corrections), note="；".join(notes) if notes else None
        )
    general = notes_after.get(None)
    if general:
        doc.heading("调解员备注", 2)
        for text in general:
            doc.paragraph(text)
    corrected = sum(1 for r in record.lines if r.corrections)
    doc.paragraph(
        f"本笔录由在线调解平台根据各方发言实时语音转写，共 {len(record.lines)} 条，"
        f"经调解员核对，更正 {corrected} 条（原始转写与每次更正均保存在案件记录中）。"
        f"定稿时间：{beijing_time(finalised_at, seconds=False)}（北京时间）。"
    )
    return doc.render()
