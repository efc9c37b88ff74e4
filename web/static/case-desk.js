// The mediator's desk, the rest of a case's intake (issue 14): an agent names the party they act for, the
// evidence (the police's liability finding 交通事故认定书 and the rest) is uploaded, listed and opened, each
// person's last invitation shows whether the channel took it, a scheduled session is rescheduled or cancelled,
// and a recorded session links to its playback. console.js calls showDesk each time it shows a case.
import { ERRORS } from "/static/words.js";

const $ = (id) => document.getElementById(id);
const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) : "—");
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

/** What an upload may be (server.domain.documents.UPLOAD_KINDS), the liability finding first. */
export const UPLOAD_KINDS = {
  liability_finding: "交通事故认定书 Police liability finding", evidence: "证据材料 Evidence",
  photo: "现场及车损照片 Photos", medical_record: "病历及诊断证明 Medical records", invoice: "费用票据 Receipts",
  identity: "身份证明 Identity", authorization: "授权委托书 Power of attorney", appraisal_opinion: "鉴定意见 Appraisal opinion",
  note: "内部备注 Internal note", other: "其他材料 Other",
};
/** The platform's own documents, as the list names them. */
const PLATFORM_KINDS = {
  agreement_draft: "协议草稿 Agreement draft", agreement_signing: "待签协议 Agreement for signing",
  agreement_terms: "协议条款 Agreement terms", signing_certificate: "签署证书 Signing certificate",
  proof_of_service: "送达回证 Proof of service", service_address: "送达地址确认书 Address for service",
  undisputed_facts: "无争议事实记载 Undisputed facts", confirmation_application: "司法确认申请 Application",
  confirmation_packet: "司法确认材料 Confirmation packet", ruling: "裁定书 Ruling",
  material_request: "补充材料通知 Request for material", supplementary_material: "补充材料 Supplementary material",
  police_intake: "公安交管部门移送信息 Sent by the traffic police",
};
const UPLOAD_TYPES = ["application/pdf", "image/jpeg", "image/png", "text/plain"];
const EXTENSION = { "application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png", "text/plain": ".txt", "application/json": ".json" };
const MAX_UPLOAD = 20 * 1024 * 1024;  // the server's default MEDIATION_MAX_DOCUMENT_BYTES; it answers 413 past its own
const CHANNELS = { sms: "短信 SMS", email: "邮件 E-mail" };
const PARTIES = ["applicant", "respondent", "insurer"];
const ROLE = { applicant: "申请人", respondent: "被申请人", insurer: "保险公司" };
const PROBLEMS = {
  ...ERRORS,
  payload_too_large: "文件过大（最多 20 MB）。 The file is too large.",
  unsupported_media_type: "只能上传 PDF、JPEG、PNG 或纯文本文件。 Only PDF, JPEG, PNG or text files.",
};
const problem = (err, fallback) => (err && (PROBLEMS[err.code] || err.detail)) || fallback;

let token = null;
let reopen = () => {};

async function call(method, path, body, headers = {}) {
  const init = { method, headers: { Authorization: "Bearer " + token, ...headers } };
  if (body instanceof Blob) init.body = body;
  else if (body) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  const res = await fetch(path, init);
  const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (!res.ok) throw data;
  return data;
}

// ------------------------------------------------------------------ agents: whom they act for

function syncRepresents() {
  const agent = $("person-role").value === "agent";
  $("person-represents-label").hidden = !agent;
  $("person-represents").required = agent;
}
$("person-role").addEventListener("change", syncRepresents);
$("add-person").addEventListener("reset", () => setTimeout(syncRepresents));

function showAgents(c) {
  const parties = c.participants.filter((p) => PARTIES.includes(p.role));
  $("person-represents").replaceChildren(...parties.map((p) => el("option", { value: p.id, textContent: `${p.display_name}（${ROLE[p.role]}）` })));
  syncRepresents();
  const names = Object.fromEntries(c.participants.map((p) => [p.id, p.display_name]));
  for (const p of c.participants) {
    if (!p.represents) continue;
    const row = document.querySelector(`#people-rows tr[data-participant-id="${CSS.escape(p.id)}"]`);
    if (row && row.cells[1]) row.cells[1].append(el("span", { className: "represents", textContent: `（代理 ${names[p.represents] || "—"} acts for）` }));
  }
}

// ------------------------------------------------------------------ invitations: what the channel answered

async function showDeliveries(base) {
  let entries;
  try { ({ entries } = await call("GET", `${base}/audit`)); } catch { return; }
  const last = {};
  for (const e of entries) if (e.action === "participant.invited") last[e.details.participant_id] = e;
  for (const [pid, e] of Object.entries(last)) {
    const row = document.querySelector(`#people-rows tr[data-participant-id="${CSS.escape(pid)}"]`);
    if (!row || !row.cells[3]) continue;
    const ok = e.details.accepted;
    row.cells[3].append(el("span", {
      className: "delivery" + (ok ? " done" : " warn"),
      textContent: ` 最近邀请：${CHANNELS[e.details.channel] || e.details.channel} · ${ok ? "已送达 delivered" : "未送达 not delivered"} · ${when(e.at)}`,
    }));
  }
}

// ------------------------------------------------------------------ sessions: reschedule, cancel, play back

const beijing = (local) => `${local.length === 16 ? local + ":00" : local}+08:00`;
const localInput = (iso) => new Date(new Date(iso).getTime() + 8 * 3600e3).toISOString().slice(0, 16);  // Beijing wall time

function showSessions(c, base) {
  for (const s of c.sessions) {
    const li = document.querySelector(`#sessions li[data-session-id="${CSS.escape(s.id)}"]`);
    if (!li || s.status !== "scheduled") continue;
    const actions = el("span", { className: "session-actions" });
    const move = el("button", { type: "button", className: "reschedule", textContent: "改期 Reschedule" });
    const drop = el("button", { type: "button", className: "cancel-session danger", textContent: "取消 Cancel" });
    actions.append(" ", move, " ", drop);
    li.append(actions);
    move.addEventListener("click", () => {
      const at = el("input", { type: "datetime-local", className: "reschedule-at", required: true, value: localInput(s.scheduled_start) });
      const minutes = el("input", { type: "number", className: "reschedule-minutes", min: 1, max: 720, value: s.duration_minutes });
      const form = el("form", { className: "reschedule-form" },
        el("label", {}, "新的时间 ", el("small", { textContent: "New start" }), " ", at),
        el("label", {}, "时长（分钟） ", el("small", { textContent: "Minutes" }), " ", minutes),
        el("button", { className: "primary", textContent: "确定改期 Move it" }), " ",
        el("button", { type: "button", className: "reschedule-no", textContent: "不改 Keep" }));
      form.querySelector(".reschedule-no").addEventListener("click", () => { form.remove(); actions.hidden = false; });
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        // the domain has no reschedule command: the new session is scheduled first, then the old one cancelled,
        // so the case never stands without a session (and a failure leaves the old one as it was)
        try { await call("POST", `${base}/sessions`, { starts_at: beijing(at.value), duration_minutes: Number(minutes.value) }); }
        catch (err) { reopen(problem(err, "未能改期。 Not rescheduled.")); return; }
        try { await call("POST", `${base}/sessions/${encodeURIComponent(s.id)}/cancel`); reopen("已改期。 Rescheduled."); }
        catch (err) { reopen(`已安排新的时间，但原定调解未能取消：${problem(err, "")} The new session is scheduled; the old one is still on.`); }
      });
      actions.hidden = true;
      li.append(form);
    });
    drop.addEventListener("click", () => {
      const ask = el("span", { className: "cancel-ask notice" }, " 确定取消这次调解？ Cancel this session? ");
      const yes = el("button", { type: "button", className: "cancel-yes danger", textContent: "确定取消 Yes, cancel" });
      const no = el("button", { type: "button", className: "cancel-no", textContent: "不取消 No" });
      ask.append(yes, " ", no);
      no.addEventListener("click", () => { ask.remove(); actions.hidden = false; });
      yes.addEventListener("click", async () => {
        try { await call("POST", `${base}/sessions/${encodeURIComponent(s.id)}/cancel`); reopen("已取消调解。 Session cancelled."); }
        catch (err) { reopen(problem(err, "未能取消。 Not cancelled.")); }
      });
      actions.hidden = true;
      li.append(ask);
    });
  }
}

async function showPlayback(c, base) {
  if (!c.sessions.some((s) => s.status !== "scheduled" && s.status !== "cancelled")) return;
  let recorded;
  try { ({ sessions: recorded } = await call("GET", `${base}/recording/sessions`)); } catch { return; }
  for (const r of recorded) {
    const li = document.querySelector(`#sessions li[data-session-id="${CSS.escape(r.session_id)}"]`);
    if (!li || li.querySelector(".playback-link")) continue;
    const q = new URLSearchParams({ case: c.id, session: r.session_id });
    li.append(" ", el("a", { className: "playback-link", href: `/playback?${q}`, textContent: "回放录像与笔录 Play back" }));
  }
}

// ------------------------------------------------------------------ evidence: upload, list, open

function kindName(kind) {
  return UPLOAD_KINDS[kind] || PLATFORM_KINDS[kind] || kind;
}

async function openDocument(base, doc) {
  try {
    const res = await fetch(`${base}/documents/${encodeURIComponent(doc.id)}`, { headers: { Authorization: "Bearer " + token } });
    if (!res.ok) throw await res.json().catch(() => ({}));
    const a = el("a", { href: URL.createObjectURL(await res.blob()), download: doc.title + (EXTENSION[doc.media_type] || "") });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  } catch (err) { $("documents-status").textContent = problem(err, "未能打开。 Could not open it."); }
}

function showDocuments(c, base) {
  const docs = c.documents || [];
  $("document-rows").replaceChildren(...docs.map((d) => {
    const button = el("button", { type: "button", className: "open-document", textContent: "打开 Open" });
    button.addEventListener("click", () => openDocument(base, d));
    const tr = el("tr", {},
      el("td", { textContent: kindName(d.kind) }),
      el("td", { textContent: d.title + (d.visibility === "parties" ? "（当事人可见）" : "") }),
      el("td", { textContent: when(d.created_at) }),
      el("td", {}, button));
    tr.dataset.documentId = d.id; tr.dataset.kind = d.kind;
    return tr;
  }));
  $("documents-empty").hidden = docs.length > 0;
  const kinds = $("upload-kind");
  if (!kinds.options.length) kinds.append(...Object.entries(UPLOAD_KINDS).map(([value, textContent]) => el("option", { value, textContent })));
  $("upload-document").onsubmit = async (e) => {
    e.preventDefault();
    const file = $("upload-file").files[0];
    const say = (text) => { $("documents-status").textContent = text; };
    if (!file) return;
    if (!UPLOAD_TYPES.includes(file.type)) { say(PROBLEMS.unsupported_media_type); return; }
    if (file.size > MAX_UPLOAD) { say(PROBLEMS.payload_too_large); return; }
    if (!file.size) { say("文件是空的。 The file is empty."); return; }
    const title = ($("upload-title").value.trim() || file.name.replace(/\.[^.]*$/, "").trim() || file.name).slice(0, 200);
    const q = new URLSearchParams({ kind: kinds.value, title, visibility: $("upload-visibility").value });
    say("上传中… Uploading…");
    try {
      await call("POST", `${base}/documents?${q}`, file, { "Content-Type": file.type });
      $("upload-document").reset();
      say("");
      reopen(`已上传：${title}。 Uploaded.`);
    } catch (err) {
      // 422: the bytes are not the type the file claims (the server sniffs them), or the kind or title is refused
      say(err && err.code === "invalid_command" ? `未能上传：文件内容与类型不符。 Not uploaded: ${err.detail}` : problem(err, "未能上传。 Not uploaded."));
    }
  };
}

/** Everything above, for the case ``c`` as the console just drew it; ``again(text)`` shows the case anew. */
export function showDesk(c, base, bearer, again) {
  token = bearer;
  reopen = again;
  showAgents(c);
  showSessions(c, base);
  showDocuments(c, base);
  showDeliveries(base);
  showPlayback(c, base);
}
