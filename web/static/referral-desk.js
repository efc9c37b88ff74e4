// The mediator's referral desk in the console: the cases assigned to me (受理, or 退回 with a reason)
// and the organisation's queue (领取); in a case's progress, the mediation period (deadline, 超期,
// extensions), asking the parties to extend it, their consents so far, and the case's timeline.
import { T, OVERDUE } from "/static/words.js";
import { call, problem, referralKindName, showTimeline, when } from "/static/referral-court.js";

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function button(text, cls, act) {
  const b = el("button", text, cls);
  b.type = "button";
  b.addEventListener("click", act);
  return b;
}

/**
 * Show the intake (待受理案件) under the mediator's case list: ``changed`` is called after a case was
 * accepted or taken (it is one of the mediator's cases now: the list is to be read again).
 */
export async function showIntake(token, changed) {
  const say = (text) => { $("intake-status").textContent = text || ""; };
  let mine;
  try { mine = await call(token, "GET", "/api/v1/organisations/mine"); } catch { $("intake").hidden = true; return; }
  if (mine.account_kind !== "mediator") { $("intake").hidden = true; return; }
  let cases;
  try {
    ({ cases } = await call(token, "GET", `/api/v1/organisations/${encodeURIComponent(mine.organisation.id)}/cases`));
  } catch (err) { say(problem(err, "无法读取待受理案件。 The queue cannot be read.")); $("intake").hidden = false; return; }
  // a mediator's desk lists the organisation's queue and what was assigned to them
  const assigned = cases.filter((c) => c.state === "assigned");
  const queue = cases.filter((c) => c.state === "referred");
  const act = async (c, path, body, done) => {
    try {
      await call(token, "POST", `/api/v1/cases/${encodeURIComponent(c.id)}/${path}`, body);
      say(done);
      if (changed) await changed(); else await showIntake(token, changed);
    } catch (err) { say(problem(err, "未能完成。 Not done.")); }
  };
  const row = (c) => {
    const li = el("li", undefined, "intake-case");
    li.dataset.caseId = c.id;
    const from = c.court ? `${c.court.name} · ${referralKindName(c)}` : referralKindName(c);
    li.append(el("strong", `${c.number} · ${c.title}`), el("br"), el("small", from), el("br"));
    return li;
  };
  $("intake-assigned").replaceChildren(...assigned.map((c) => {
    const li = row(c);
    const reason = el("input", undefined, "decline-reason");
    reason.maxLength = 200;
    reason.placeholder = "退回理由（必填） Reason to decline";
    reason.setAttribute("aria-label", "退回理由 Reason to decline");
    li.append(
      button("受理 Accept", "primary accept", () => act(c, "assignment/accept", null, `已受理 ${c.number}，调解期限开始计算。 Accepted.`)),
      reason,
      button("退回 Decline", "decline", () => {
        if (!reason.value.trim()) { say("请填写退回理由。 Say why you decline."); reason.focus(); return; }
        act(c, "assignment/decline", { reason: reason.value.trim() }, `已退回 ${c.number}。 Declined.`);
      }),
    );
    return li;
  }));
  $("intake-queue").replaceChildren(...queue.map((c) => {
    const li = row(c);
    li.append(button("领取 Take", "take", () => act(c, "take", null, `已领取 ${c.number}。 Taken.`)));
    return li;
  }));
  $("intake-assigned-empty").hidden = assigned.length > 0;
  $("intake-queue-empty").hidden = queue.length > 0;
  $("intake").hidden = false;
}

/** Show the mediation period of the case ``caseId`` in the mediator's progress view, and its timeline. */
export async function showPeriod(caseId, token) {
  const base = `/api/v1/cases/${encodeURIComponent(caseId)}`;
  const say = (text) => { $("period-status").textContent = text || ""; };
  let c;
  try { c = await call(token, "GET", base); } catch { $("period").hidden = true; return; }
  const p = c.period;
  $("period-timeline").hidden = true;
  $("period-timeline-button").onclick = () => {
    const box = $("period-timeline");
    box.hidden = !box.hidden;
    if (!box.hidden) showTimeline(box, token, caseId);
  };
  $("period-none").hidden = Boolean(p);
  $("period-facts").hidden = !p;
  $("period-form").hidden = !p || Boolean(p && p.extension) || !["mediator"].includes(c.your_role);
  $("period-pending").hidden = !(p && p.extension);
  if (p) {
    const facts = $("period-facts");
    facts.replaceChildren();
    const add = (k, v) => { facts.append(el("dt", k)); const dd = el("dd"); dd.append(...v); facts.append(dd); };
    const deadline = el("span", when(p.deadline), "period-deadline");
    add("开始 Started", [when(p.started_at)]);
    add("期限 Ends", p.overdue ? [deadline, el("span", OVERDUE, "overdue-flag")] : [deadline]);
    add("已延长 Extended", [`${p.extensions} 次 times`]);
    if (c.referral) add("来源 From", [referralKindName({ referral_kind: c.referral.kind }) + (c.referral.court_case_number ? ` · ${c.referral.court_case_number}` : "")]);
    if (p.extension) {
      const x = p.extension;
      const names = Object.fromEntries(c.participants.map((q) => [q.id, `${q.display_name}（${T[q.role] || q.role}）`]));
      $("period-request").textContent = `已申请延长 ${x.days} 日（${when(x.requested_at)}），理由：${x.reason}`;
      $("period-consents").replaceChildren(...x.parties.map((id) => {
        const ok = x.consented.includes(id);
        const li = el("li", `${names[id] || id}：${ok ? "已同意 Consented" : "尚未同意 Not yet"}`, ok ? "done" : "");
        li.dataset.participantId = id;
        return li;
      }));
    }
  }
  $("period-form").onsubmit = async (e) => {
    e.preventDefault();
    try {
      await call(token, "POST", `${base}/period/extension`, { days: Number($("period-days").value), reason: $("period-reason").value.trim() });
      $("period-form").reset();
      await showPeriod(caseId, token);
      say("已请各方当事人同意延期。 The parties are asked to consent.");
    } catch (err) { say(problem(err, "未能申请延期。 Not requested.")); }
  };
  say("");
  $("period").hidden = false;
}
