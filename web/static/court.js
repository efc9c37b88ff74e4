// The judge's workspace: the court's queue, an application's packet, one-click verification,
// playback, requests for more material, and the ruling.
import { ERRORS } from "/static/words.js";
import { openReferrals } from "/static/referral-court.js";

/** A problem as the judge reads it: Chinese first, the server's own words only for what the page does not know. */
const said = (err, fallback) => (err && ERRORS[err.code]) || fallback + (err && err.detail ? `（${err.detail}）` : "");
const $ = (id) => document.getElementById(id);
const show = (id, on = true) => { $(id).hidden = !on; };
let token = sessionStorage.getItem("mediation-token");
let current = null;

const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) : "—");
function status(text) { $("status").textContent = text || ""; }

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { ...(token ? { Authorization: "Bearer " + token } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw data;
  return data;
}

function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.append(td); return td; }

async function loadQueue() {
  try {
    const { applications } = await api("GET", "/api/v1/court/applications");
    const rows = $("queue-rows");
    rows.replaceChildren();
    for (const a of applications) {
      const tr = document.createElement("tr");
      tr.dataset.caseId = a.case_id;
      cell(tr, a.number); cell(tr, a.title); cell(tr, when(a.submitted_at)); cell(tr, when(a.review_deadline));
      cell(tr, `${a.days_left} 天`).className = a.days_left <= 3 ? "warn" : "";
      const td = cell(tr, "");
      const b = document.createElement("button");
      b.className = "open";
      b.textContent = a.taken_by_me ? "打开 Open" : a.taken ? "他人承办 Taken" : "承办 Take";
      b.disabled = a.taken && !a.taken_by_me;
      b.addEventListener("click", () => openApplication(a.case_id, !a.taken_by_me));
      td.append(b);
      rows.append(tr);
    }
    show("queue-empty", !applications.length);
    show("login", false); show("application", false); show("queue");
    openReferrals(token);  // 委派调解: the referral desk below the queue
  } catch (err) {
    if (err && (err.code === "unauthenticated" || err.code === "token_expired")) { token = null; sessionStorage.removeItem("mediation-token"); }
    if (err && err.code === "forbidden" && (await openReferrals(token))) { show("queue", false); show("login", false); status(""); return; }  // a clerk: the referral desk only
    show("queue", false); show("login");
    if (err && err.code && err.code !== "unauthenticated") status(said(err, "无法打开审查队列。 The queue cannot be opened."));
  }
}

async function download(caseId, doc) {
  const res = await fetch(`/api/v1/cases/${caseId}/documents/${doc.id}`, { headers: { Authorization: "Bearer " + token } });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await res.blob());
  link.download = `${doc.title}.${doc.media_type === "application/json" ? "json" : "pdf"}`;
  link.click();
}

async function openApplication(caseId, take) {
  status("");
  try {
    if (take) await api("POST", `/api/v1/court/applications/${caseId}/take`);
    const base = `/api/v1/cases/${caseId}`;
    const [state, packet] = await Promise.all([api("GET", `${base}/confirmation`), api("GET", `${base}/confirmation/packet`)]);
    current = { caseId, base, packet };
    $("app-title").textContent = `${packet.case.number} · ${packet.case.title}`;
    const facts = $("app-facts");
    facts.replaceChildren();
    for (const [k, v] of [["法院 Court", state.court], ["协议生效 In effect", when(packet.agreement_effective_at)],
                          ["提交 Submitted", when(state.submitted_at)], ["审查期限 Review by", when(state.review_deadline)]]) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v;
      facts.append(dt, dd);
    }
    $("applicants").replaceChildren(...packet.applicants.map((a) => {
      const li = document.createElement("li");
      li.textContent = `${a.name}（${a.role}）身份证号 ${a.id_number || "—"} · 确认于 ${when(a.confirmed_at)}`;
      return li;
    }));
    const rows = $("packet-rows");
    rows.replaceChildren();
    for (const d of [packet.application, ...packet.documents]) {
      const tr = document.createElement("tr");
      tr.dataset.documentId = d.id;
      cell(tr, d.kind_words); cell(tr, d.title);
      const hash = cell(tr, ""); const code = document.createElement("code"); code.textContent = d.sha256; hash.append(code);
      const b = document.createElement("button"); b.textContent = "下载 Download";
      b.addEventListener("click", () => download(caseId, d));
      cell(tr, "").append(b);
      rows.append(tr);
    }
    // material the parties handed in after a request
    const view = await api("GET", base);
    $("materials").replaceChildren(...(view.documents || []).filter((d) => d.kind === "supplementary_material").map((d) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.textContent = `补充材料：${d.title}（${when(d.created_at)}）下载 Download`;
      b.addEventListener("click", () => download(caseId, d));
      li.append(b);
      return li;
    }));
    $("playback").href = `/playback?case=${encodeURIComponent(caseId)}`;
    show("verification", false);
    const ruled = state.ruling_document_id !== null;
    $("ruling-form").querySelector("button").disabled = ruled;
    $("ruling-status").textContent = ruled ? `已裁定：${state.confirmed ? "确认有效 Confirmed" : "驳回 Rejected"}` : "";
    show("queue", false); show("application");
  } catch (err) { status(said(err, "无法打开申请。 The application cannot be opened.")); }
}

$("verify").addEventListener("click", async () => {
  const box = $("verification");
  box.textContent = "正在核验… Verifying…";
  show("verification");
  try {
    const v = await api("POST", `${current.base}/confirmation/verify`);
    box.replaceChildren();
    const line = (ok, text) => { const p = document.createElement("p"); p.className = ok ? "ok" : "warn"; p.textContent = (ok ? "✓ " : "✗ ") + text; box.append(p); };
    line(v.ok, v.ok ? "全部核验通过 Everything verified" : "核验发现问题 Problems found");
    for (const s of v.agreement.signatures) line(s.ok, `签名 ${s.signer}：${s.ok ? "有效" : s.problems.join("; ")} · 时间戳 ${when(s.timestamp_time)}`);
    line(v.recordings.ok, `录音录像哈希链（${v.recordings.sessions.length} 场）${v.recordings.ok ? "完整" : "异常"}`);
    line(v.audit.ok, `审计链（${v.audit.entries} 条）${v.audit.ok ? "完整" : v.audit.problem}`);
    for (const d of v.documents) if (!d.intact) line(false, `材料 ${d.title} 与提交时不一致`);
  } catch (err) { box.textContent = said(err, "核验失败。 Verification failed."); }
});

$("request-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const out = await api("POST", `${current.base}/confirmation/requests`, { text: $("request-text").value, days: Number($("request-days").value) });
    const missing = out.service.not_served_electronically;
    $("request-status").textContent = "通知已送达。 The notice was served." + (missing.length ? ` 未同意电子送达：${missing.join("、")}` : "");
    $("request-text").value = "";
  } catch (err) { $("request-status").textContent = said(err, "未能送达。 Not served."); }
});

$("ruling-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const confirmed = document.querySelector("input[name=outcome]:checked").value === "confirm";
  try {
    const out = await api("POST", `${current.base}/confirmation/ruling`, { confirmed, reasons: $("reasons").value });
    $("ruling-status").textContent = `已裁定并送达各方：${out.confirmed ? "确认有效 Confirmed" : "驳回 Rejected"}`;
    $("ruling-form").querySelector("button").disabled = true;
  } catch (err) { $("ruling-status").textContent = said(err, "未能作出裁定。 Not ruled."); }
});

$("back").addEventListener("click", () => loadQueue());
$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const res = await api("POST", "/api/v1/auth/login", { username: $("username").value, password: $("password").value });
    token = res.token; sessionStorage.setItem("mediation-token", token); status(""); loadQueue();
  } catch (err) { status(err && err.code === "unauthenticated" ? "用户名或密码错误。 Wrong user name or password." : said(err, "登录失败。 Login failed.")); }
});
$("logout").addEventListener("click", async () => {
  await api("POST", "/api/v1/auth/logout").catch(() => {});
  token = null; sessionStorage.removeItem("mediation-token"); show("queue", false); show("login");
});

if (token) loadQueue(); else show("login");
