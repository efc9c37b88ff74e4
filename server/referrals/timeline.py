"""A case's progress as a timeline: the audit trail's milestones, each with a Chinese label, who and when.

Pure: it reads audit entries already loaded and names the people behind them; no personal data beyond
the names of staff and participants that the viewer already sees on the case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from server.domain.audit import AuditEntry
from server.domain.participants import Participant
from server.domain.roles import role_name
from server.domain.time import BEIJING

REFERRAL_NAMES: Mapping[str, str] = {
    "own": "调解组织自行受理",
    "pre_litigation": "诉前委派",
    "in_litigation": "诉中委托",
    "application": "当事人申请",
    "police": "公安交管部门委托调解",
}
"""How each kind of referral is named."""

_ENDINGS: Mapping[str, str] = {
    "mediation_failed": "调解不成，转诉讼",
    "withdrawn": "撤回",
    "closed": "结案",
}

_STATE_STEPS: Mapping[str, str] = {
    "signed": "调解协议已签署生效",
    "served": "调解协议已送达",
    "confirmed": "司法确认：确认有效",
    "rejected": "司法确认：驳回申请",
}

_FRONT_STEPS: Mapping[str, str] = {
    # 一键理赔 (server.claims)
    "claim.submitted": "申请一键理赔",
    "claim.accept": "保险公司受理理赔",
    "claim.choose_shop": "选择定点维修厂（定修直赔）",
    "claim.pay": "保险公司赔付",
    "claim.refuse": "保险公司拒赔",
    "claim.overdue": "理赔超期",
    # 在线鉴定 (server.appraisal)
    "appraisal.started": "启动司法鉴定",
    "appraisal.agreed": "协商选定鉴定机构",
    "appraisal.drawn": "随机选定鉴定机构",
    "appraisal.appointed": "委托鉴定（送达鉴定委托通知书）",
    "appraisal.materials_sent": "移送鉴定材料",
    "appraisal.opinion": "鉴定机构提交鉴定意见",
    "appraisal.reappraisal_applied": "申请重新鉴定",
    "appraisal.reappraisal_decided": "重新鉴定申请已处理",
    "appraisal.evaluated": "评价鉴定意见",
    # 救助基金垫付 (server.relief)
    "relief.applied": "申请救助基金垫付",
    "relief.resubmitted": "补充材料后重新提交垫付申请",
    "relief.decided": "救助基金作出决定",
    "relief.paid": "救助基金已垫付",
    "relief.liable_named": "确定追偿对象",
    "relief.recovered": "救助基金追偿",
    "relief.written_off": "追偿核销",
}
"""The milestones of the front's stages recorded in a case's audit trail (consents, materials and evidence steps
that repeat are left out)."""

ACCOUNT_FIELDS = ("mediator_account_id",)
"""Details that name an account (the timeline names its holder)."""


def _date(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).astimezone(BEIJING).strftime("%Y-%m-%d")
    except ValueError:
        return ""


def _label(action: str, d: Mapping[str, Any], names: Mapping[str, str]) -> str | None:
    if action == "case.filed":
        return "收案"
    if action == "case.referred":
        return f"委派至调解组织（{REFERRAL_NAMES.get(str(d.get('referral_kind')), '')}）"
    if action == "case.assigned":
        return f"分派调解员：{names.get(str(d.get('mediator_account_id')), '')}".rstrip("：")
    if action == "assignment.accepted":
        return "调解员受理"
    if action == "assignment.declined":
        return f"调解员退回：{d.get('reason', '')}"
    if action == "period.started":
        return f"调解期限开始，至 {_date(d.get('deadline'))}"
    if action == "period.reminder":
        return f"调解期限将于 {_date(d.get('deadline'))} 届满（已提醒）"
    if action == "period.overdue":
        return "调解超期"
    if action == "period.extension_requested":
        return f"申请延长调解期限 {d.get('days')} 日"
    if action == "period.extension_consented":
        return "当事人同意延长调解期限"
    if action == "period.extended":
        return f"调解期限延长至 {_date(d.get('deadline'))}"
    if action == "session.scheduled":
        return f"安排调解（{_date(d.get('starts_at'))}）"
    if action == "session.cancelled":
        return "取消调解"
    if action == "session.started":
        return "调解开始"
    if action == "session.ended":
        return "调解结束"
    if action == "agreement.drafted":
        return f"起草调解协议（第{d.get('version')}版）"
    if action == "service.started":
        return "开始电子送达"
    if action == "confirmation.applied":
        return "申请司法确认"
    if action in _FRONT_STEPS:
        return _FRONT_STEPS[action]
    if action == "case.state_changed":
        return _STATE_STEPS.get(str(d.get("new")))
    if action == "case.ended":
        return _ENDINGS.get(str(d.get("outcome")))
    return None


def milestones(
    entries: Sequence[AuditEntry], people: Mapping[str, Participant], names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The milestones among ``entries``, oldest first: ``{"at", "action", "label", "who"}``.

    ``names`` maps account ids to how they are shown (name and organisation)."""
    out: list[dict[str, Any]] = []
    for entry in entries:
        details = entry.details_dict()
        label = _label(entry.action, details, names)
        if label is None:
            continue
        kind, _, subject = entry.actor.partition(":")
        if kind == "account":
            who = names.get(subject, "")
        elif kind == "participant" and subject in people:
            p = people[subject]
            who = f"{p.display_name}（{role_name(p.role)}）"
        elif kind == "intake":  # a police agency's system, by its key (server.intake)
            who = "公安交管部门系统"
        elif kind == "scene":  # a scene report both drivers asked to have mediated (server.scene.mediation)
            who = "快处快赔（双方驾驶人申请调解）"
        else:
            who = "系统"
        out.append({"at": entry.at, "action": entry.action, "label": label, "who": who})
    return out
