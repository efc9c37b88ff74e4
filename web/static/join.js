// Join page: reads the personal token from the URL fragment (never sent to the server
// in the request line), then shows the case as this participant may see it.
"use strict";

const ROLE = {
  mediator: "调解员 Mediator", applicant: "申请人 Applicant", respondent: "被申请人 Respondent",
  agent: "代理人 Agent", insurer: "保险公司 Insurer", judge: "法官 Judge", observer: "旁听 Observer",
};
const STATE = {
  filed: "已立案 Filed", session_scheduled: "已安排调解 Session scheduled", in_session: "调解中 In session",
  between_sessions: "调解进行中 Mediating", agreement_drafted: "协议已起草 Agreement drafted",
  signing: "签署中 Signing", signed: "已签署 Signed", serving: "送达中 Serving", served: "已送达 Served",
  confirmation_applied: "已申请司法确认 Confirmation applied", confirmed: "已司法确认 Confirmed",
  rejected: "司法确认被驳回 Rejected", mediation_failed: "调解不成 Mediation failed", withdrawn: "已撤回 Withdrawn",
  signing_expired: "签署超时 Signing expired", service_failed: "送达失败 Service failed", closed: "已结案 Closed",
};

function token() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  return params.get("token");
}

function text(id, value) { document.getElementById(id).textContent = value; }

async function api(path, tok) {
  const res = await fetch(path, { headers: { Authorization: "Bearer " + tok } });
  const body = await res.json();
  if (!res.ok) { throw body; }
  return body;
}

async function main() {
  const tok = token();
  const status = document.getElementById("status");
  if (!tok) { status.textContent = "链接不完整。Your link is incomplete."; return; }
  try {
    const me = await api("/api/v1/me", tok);
    const c = await api("/api/v1/cases/" + encodeURIComponent(me.case_id), tok);
    text("case-number", c.number);
    text("case-title", c.title);
    text("your-role", ROLE[c.your_role] || c.your_role);
    text("case-state", STATE[c.state] || c.state);
    const sessions = document.getElementById("sessions");
    for (const s of c.sessions) {
      const li = document.createElement("li");
      li.textContent = new Date(s.scheduled_start).toLocaleString() + " · " + s.status;
      sessions.appendChild(li);
    }
    const people = document.getElementById("participants");
    for (const p of c.participants) {
      const li = document.createElement("li");
      li.textContent = p.display_name + " · " + (ROLE[p.role] || p.role);
      people.appendChild(li);
    }
    status.textContent = "您好，" + me.display_name + "。 Welcome.";
    document.getElementById("case").hidden = false;
  } catch (err) {
    const code = err && err.code;
    status.textContent = code === "token_expired" ? "链接已过期，请联系调解员。This link has expired; ask your mediator for a new one."
      : code === "token_revoked" ? "链接已失效。This link has been revoked."
      : "无法打开此链接。This link cannot be opened.";
  }
}

main();
