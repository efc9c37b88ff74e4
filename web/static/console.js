// The mediator's console: log in, pick a case, host the session.
import { RoomClient, T, ERRORS, chatLine, Captions, stateName } from "/static/call.js";
import { markAddresses } from "/static/address.js";
import { showFacts } from "/static/facts-desk.js";
import { showAppraisalDesk } from "/static/appraisal-desk.js";
import { showReliefDesk } from "/static/relief-desk.js";
import { showClaimDesk } from "/static/claim-desk.js";
import { showIntake, showPeriod } from "/static/referral-desk.js";
import "/static/profile.js";  // the mediator's own profile (我的资料)
import { showDesk } from "/static/case-desk.js";  // agents, evidence, deliveries, rescheduling, playback links

const $ = (id) => document.getElementById(id);
const show = (id, on = true) => { $(id).hidden = !on; };
const status = (text) => { $("status").textContent = text; };
let token = sessionStorage.getItem("mediation-token");
let client = null;

async function api(method, path, body) {
  const res = await fetch(path, {
    method, headers: { "Content-Type": "application/json", ...(token ? { Authorization: "Bearer " + token } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = res.status === 204 ? {} : await res.json();
  if (!res.ok) throw data;
  return data;
}

async function listCases() {
  try {
    const page = await api("GET", "/api/v1/cases?limit=100");
    const rows = $("case-rows");
    rows.replaceChildren();
    for (const c of page.items) {
      const tr = document.createElement("tr");
      for (const v of [c.number, c.title, stateName(c.state)]) { const td = document.createElement("td"); td.textContent = v; tr.append(td); }
      const td = document.createElement("td");
      const b = document.createElement("button");
      b.textContent = "进入调解室 Open room";
      b.dataset.caseId = c.id;
      b.addEventListener("click", () => openRoom(c.id));
      td.append(b);
      const more = document.createElement("button");
      more.textContent = "进展 Progress";
      more.dataset.progressId = c.id;
      more.addEventListener("click", () => openProgress(c.id));
      td.append(more);
      const recordings = document.createElement("a");  // playback and the record, with this tab's login
      recordings.href = "/playback?case=" + encodeURIComponent(c.id);
      recordings.className = "recordings";
      recordings.dataset.recordingsId = c.id;
      recordings.textContent = " 录像与笔录 Recordings";
      td.append(recordings);
      const agreement = document.createElement("a");  // the calculator and the agreement's drafts, with this tab's login
      agreement.href = "/agreement?case=" + encodeURIComponent(c.id);
      agreement.className = "agreement-link";
      agreement.dataset.agreementId = c.id;
      agreement.textContent = " 计算器与协议 Calculator & agreement";
      td.append(agreement);
      if (c.state === "signing" || c.state === "signed") {
        const sign = document.createElement("a");  // the signing page, with this tab's login
        sign.href = "/sign#case=" + encodeURIComponent(c.id);
        sign.className = "sign-case";
        sign.textContent = c.state === "signing" ? " 签署协议 Sign" : " 签署结果 Signed";
        td.append(sign);
      }
      tr.append(td); rows.append(tr);
    }
    show("login", false); show("cases");
    showIntake(token, listCases);  // 待受理案件: assigned to me, and the organisation's queue
  } catch (err) {
    token = null; sessionStorage.removeItem("mediation-token"); show("login"); show("cases", false);
    if (err && err.code && err.code !== "unauthenticated") status(ERRORS[err.code] || err.detail);
  }
}

function control(event, payload) {
  // once the room is closed ("end" is answered by the "ended" event first) a missing acknowledgement is no error
  return client.call(event, payload).then((ack) => { if (!ack.ok && ack.code !== "closed") status(ERRORS[ack.code] || ack.message); return ack; });
}

function renderPeople(room) {
  const list = $("people");
  list.replaceChildren();
  for (const m of room.members || []) {
    if (m.role === "mediator") continue;
    const li = document.createElement("li");
    li.dataset.pid = m.participant_id;
    li.dataset.presence = m.presence;
    const pick = document.createElement("input");
    pick.type = "checkbox"; pick.className = "pick"; pick.value = m.participant_id; pick.disabled = m.presence !== "admitted";
    const name = document.createElement("span");
    name.textContent = `${m.display_name} · ${T[m.role] || m.role} · ${m.presence === "waiting" ? "等候中 waiting" : (m.connected ? "在线 online" : "连接中断 offline")}`;
    li.append(pick, name);
    const add = (label, event, payload, cls = "") => {
      const b = document.createElement("button"); b.textContent = label; b.dataset.action = event + (payload.kind ? "-" + payload.kind : "");
      if (cls) b.className = cls;
      b.addEventListener("click", () => control(event, payload)); li.append(b);
    };
    if (m.presence === "waiting") {
      add("准入 Admit", "admit", { participant_id: m.participant_id }, "primary");
      add("拒绝 Deny", "deny", { participant_id: m.participant_id });
    } else {
      const audioMuted = m.muted.includes("audio"), videoMuted = m.muted.includes("video");
      add(audioMuted ? "取消静音 Unmute" : "静音 Mute", "mute", { participant_id: m.participant_id, kind: "audio", muted: !audioMuted });
      add(videoMuted ? "开启画面 Show video" : "关闭画面 Hide video", "mute", { participant_id: m.participant_id, kind: "video", muted: !videoMuted });
      add("移出 Remove", "remove", { participant_id: m.participant_id }, "danger");
    }
    list.append(li);
  }
  // who is on the case but has not come yet (nobody to admit; maybe send them their link again)
  const here = new Set((room.members || []).map((m) => m.participant_id));
  for (const p of caseParticipants) {
    if (p.role === "mediator" || p.role === "judge" || here.has(p.id)) continue;
    const li = document.createElement("li");
    li.className = "absent";
    li.dataset.pid = p.id;
    li.textContent = `${p.display_name} · ${T[p.role] || p.role} · 尚未加入 not joined yet`;
    list.append(li);
  }
  $("rec").hidden = !room.recording;
  $("lock").setAttribute("aria-pressed", String(Boolean(room.locked)));
  show("caucus-end", Boolean(room.caucus));
  if (room.caucus) { $("banner").textContent = "单独沟通中 Caucus in progress"; show("banner"); } else show("banner", false);
}

let caseParticipants = [];
// Which view the mediator asked for last: a progress view still loading when they went back to the list (or
// opened another) must not take the screen back when its last answers arrive.
let currentView = 0;

async function openRoom(caseId) {
  currentView += 1;  // a progress view still loading stays behind the room
  show("cases", false); show("room");
  caseParticipants = (await api("GET", `/api/v1/cases/${encodeURIComponent(caseId)}`).catch(() => ({ participants: [] }))).participants;
  client = new RoomClient({ token, caseId, tiles: $("tiles"), localVideo: $("self") });
  const captions = new Captions($("captions"));
  client.addEventListener("caption", (e) => captions.show(e.detail));
  window.__room = client;
  try { await client.openDevices(); } catch { status("无法使用摄像头或麦克风。Camera or microphone unavailable."); }
  client.addEventListener("room", (e) => renderPeople(e.detail));
  client.addEventListener("joined", () => status("调解进行中 Session in progress"));
  client.addEventListener("chat", (e) => $("chat-lines").append(chatLine(e.detail, client.me && client.me.participant_id)));
  client.addEventListener("problem", (e) => { const d = e.detail || {}; status(ERRORS[d.code] || d.message || "出现问题 Something went wrong"); });
  client.addEventListener("ended", () => { show("room", false); status("调解已结束 Session ended"); listCases(); });
  client.connect();
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const res = await api("POST", "/api/v1/auth/login", { username: $("username").value, password: $("password").value });
    token = res.token; sessionStorage.setItem("mediation-token", token); status(""); home();
  } catch (err) { status(err.code === "too_many_attempts" ? "尝试次数过多，请稍后再试。Too many attempts; try later." : "用户名或密码错误。Wrong user name or password."); }
});
async function logout() {
  await api("POST", "/api/v1/auth/logout").catch(() => {});
  token = null; sessionStorage.removeItem("mediation-token"); show("cases", false); show("admin", false); show("login");
}
$("logout").addEventListener("click", logout);
$("admin-logout").addEventListener("click", logout);

$("new-case").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const c = await api("POST", "/api/v1/cases", { kind: $("new-case-kind").value, title: $("new-case-title").value.trim() });
    $("new-case").reset();
    show("cases", false); show("progress");
    openProgress(c.id, `已立案：${c.number}。请添加当事人并发送链接。 Filed: add the people and send their links.`);
  } catch (err) { status(ERRORS[err.code] || err.detail || "未能立案。 Not filed."); }
});

// An organisation's administrator has no cases: their page manages the organisation's accounts.
async function home() {
  let mine = null;
  try { mine = await api("GET", "/api/v1/organisations/mine"); } catch { /* a link, or an expired login */ }
  if (mine && mine.may_manage_accounts) {
    $("admin-organisation").textContent = `${mine.organisation.name} · ${mine.account_kind_name}`;
    show("login", false); show("admin");
    return;
  }
  listCases();
}
$("mic").addEventListener("click", () => { const on = $("mic").getAttribute("aria-pressed") !== "true"; $("mic").setAttribute("aria-pressed", String(on)); client.setEnabled("audio", on); });
$("cam").addEventListener("click", () => { const on = $("cam").getAttribute("aria-pressed") !== "true"; $("cam").setAttribute("aria-pressed", String(on)); client.setEnabled("video", on); });
$("lock").addEventListener("click", () => control("lock", { locked: $("lock").getAttribute("aria-pressed") !== "true" }));
$("caucus-start").addEventListener("click", () => {
  const members = [...document.querySelectorAll(".pick:checked")].map((p) => p.value);
  if (members.length) control("caucus_start", { members });
});
$("caucus-end").addEventListener("click", () => control("caucus_end"));
$("end").addEventListener("click", () => { if (confirm("确定结束本次调解？ End the session?")) control("end"); });
$("chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("chat-text").value.trim();
  if (text && (await control("chat", { text })).ok) $("chat-text").value = "";
});

if (token) home(); else show("login");

// ------------------------------------------------------------------ a case's progress after the sessions

const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) : "—");
const DELIVERY = { pending: "待发送", sending: "发送中", sent: "已发出", accepted: "已送达", retrying: "失败待重试", failed: "失败" };

const SESSION_STATES = { scheduled: "已安排 scheduled", in_progress: "进行中 in progress", ended: "已结束 ended", cancelled: "已取消 cancelled" };
const LATER = ["signing", "signed", "serving", "served", "service_failed", "confirmation_applied", "confirmed", "rejected", "closed", "withdrawn", "mediation_failed", "signing_expired"];

// The people on the case, each with a way to send them their link; adding people and scheduling sessions.
function renderCasePeople(c, base, caseId, note) {
  const rows = $("people-rows");
  rows.replaceChildren();
  for (const p of c.participants) {
    const tr = document.createElement("tr");
    tr.dataset.participantId = p.id;
    for (const v of [T[p.role] || p.role, p.display_name, [p.phone, p.email].filter(Boolean).join(" / ") || "—"]) {
      const td = document.createElement("td"); td.textContent = v; tr.append(td);
    }
    const td = document.createElement("td");
    if (!p.has_account) {
      const send = (channel, label, contact) => {
        const b = document.createElement("button");
        b.textContent = label; b.className = "invite-" + channel; b.disabled = !contact;
        b.addEventListener("click", async () => {
          b.disabled = true;
          try {
            const r = await api("POST", `${base}/participants/${encodeURIComponent(p.id)}/invitation`, { channel });
            td.querySelector(".sent").textContent = r.accepted ? `已发送至 ${r.to}（${when(r.sent_at)}）` : `未能送达 ${r.to}`;
          } catch (err) { td.querySelector(".sent").textContent = ERRORS[err.code] || "发送失败 Not sent"; }
          b.disabled = false;
        });
        td.append(b);
      };
      send("sms", "短信发送 SMS", p.phone);
      send("email", "邮件发送 E-mail", p.email);
      // a person with no phone or e-mail on the case (an insurer the police's system named, say): a new link the
      // mediator hands over another way; it replaces the person's earlier join links
      const hand = document.createElement("button");
      hand.textContent = "生成链接 Link"; hand.className = "invite-link";
      hand.addEventListener("click", async () => {
        if (!confirm("生成新链接后，此人此前的链接将失效。继续？ A new link ends this person's earlier links. Go on?")) return;
        hand.disabled = true;
        try {
          const r = await api("POST", `${base}/participants/${encodeURIComponent(p.id)}/link`);
          const out = document.createElement("input");
          out.readOnly = true; out.className = "handed-link"; out.value = r.join_url;
          out.setAttribute("aria-label", "加入链接 Join link");
          out.addEventListener("focus", () => out.select());
          td.querySelector(".sent").replaceChildren("请将此链接交给本人： Give this link to the person: ", out);
        } catch (err) { td.querySelector(".sent").textContent = ERRORS[err.code] || "未能生成 Not issued"; }
        hand.disabled = false;
      });
      td.append(hand);
      const sent = document.createElement("span"); sent.className = "sent"; td.append(sent);
    }
    tr.append(td); rows.append(tr);
  }
  $("sessions").replaceChildren(...c.sessions.map((x) => {
    const li = document.createElement("li");
    li.textContent = `${when(x.scheduled_start)} · ${SESSION_STATES[x.status] || x.status}`;
    li.dataset.sessionId = x.id; li.dataset.status = x.status;
    return li;
  }));
  const open = !LATER.includes(c.state);
  show("add-person", open); show("schedule", open);
  $("add-person").onsubmit = async (e) => {
    e.preventDefault();
    const body = { role: $("person-role").value, display_name: $("person-name").value.trim() };
    if ($("person-phone").value.trim()) body.phone = $("person-phone").value.trim();
    if ($("person-email").value.trim()) body.email = $("person-email").value.trim();
    if (body.role === "agent" && $("person-represents").value) body.represents = $("person-represents").value;
    try { await api("POST", `${base}/participants`, body); $("add-person").reset(); openProgress(caseId, "已添加。 Added."); }
    catch (err) { note(ERRORS[err.code] || err.detail || "未能添加。 Not added."); }
  };
  $("schedule").onsubmit = async (e) => {
    e.preventDefault();
    const local = $("schedule-at").value;  // Beijing time, as the mediator reads the clock
    const body = { starts_at: `${local.length === 16 ? local + ":00" : local}+08:00`, duration_minutes: Number($("schedule-minutes").value) };
    try { await api("POST", `${base}/sessions`, body); openProgress(caseId, "已安排调解。 Session scheduled."); }
    catch (err) { note(ERRORS[err.code] || err.detail || "未能安排。 Not scheduled."); }
  };
}

async function openProgress(caseId, message = "") {
  const view = ++currentView;
  const base = `/api/v1/cases/${encodeURIComponent(caseId)}`;
  const note = (text) => { $("progress-status").textContent = text || ""; };
  note(message);
  try {
    const c = await api("GET", base);
    $("progress-title").textContent = `${c.number} · ${c.title}`;
    $("progress-state").textContent = `状态 State: ${stateName(c.state)}`;
    renderCasePeople(c, base, caseId, note);
    markAddresses(base, token);  // 送达地址确认书: confirmed or not, per party
    showDesk(c, base, token, (text) => openProgress(caseId, text));  // agents, evidence, deliveries, sessions' changes
    showFacts(caseId);  // the record of undisputed facts, when the mediation may fail (or has)
    showAppraisalDesk(c, token);  // online appraisal: consent, the institution, notice, materials, opinion, evaluation
    showReliefDesk(c, token);  // relief fund advances: each application's steps; apply for a party
    showClaimDesk(c, token);  // one-click claims (一键理赔): each claim's deadline clock and steps, overdue in red
    showPeriod(caseId, token);  // the mediation period, its extension, the timeline
    const signing = await api("GET", `${base}/signing`).catch(() => null);
    show("progress-signing", Boolean(signing));
    if (signing) {
      $("signers").replaceChildren(...signing.signers.map((x) => {
        const li = document.createElement("li");
        li.textContent = `${x.name}：${x.signed_at ? "已签 " + when(x.signed_at) : "未签"}`;
        return li;
      }));
    }
    const after = ["signed", "serving", "served", "service_failed", "confirmation_applied", "confirmed", "rejected", "closed"];
    show("progress-service", after.includes(c.state));
    if (after.includes(c.state)) {
      const { consents } = await api("GET", `${base}/service/consent`);
      $("consents").replaceChildren(...consents.map((x) => {
        const li = document.createElement("li");
        li.textContent = `${x.name}：${x.channels.length ? "同意 " + x.channels.join("、") + "（" + when(x.at) + "）" : "尚未同意电子送达 no consent yet"}`;
        return li;
      }));
      const serve = $("serve-agreement");
      serve.hidden = c.state !== "signed";
      serve.onclick = async () => {
        try { await api("POST", `${base}/service`, { document_id: signing.document.id }); openProgress(caseId, "已开始送达。 Service started."); }
        catch (err) { note(err.detail || "未能送达。"); }
      };
      const { services } = await api("GET", `${base}/service`);
      const rows = $("service-rows");
      rows.replaceChildren();
      for (const sv of services) {
        for (const r of sv.recipients) {
          const tr = document.createElement("tr");
          tr.dataset.service = sv.id; tr.dataset.participant = r.participant_id;
          for (const text of [sv.title, r.name,
            r.effective_at ? `已送达 ${when(r.effective_at)}（${r.effective_channel}）${r.opened_at ? " · 已查阅" : ""}`
              : r.flagged_at ? `逾期未送达 ${when(r.flagged_at)}` : r.deliveries.map((d) => `${d.channel} ${DELIVERY[d.status] || d.status}`).join("；")]) {
            const td = document.createElement("td"); td.textContent = text; tr.append(td);
          }
          if (r.flagged_at) tr.className = "warn";
          const td = document.createElement("td");
          const proof = document.createElement("button");
          proof.textContent = "送达回证 Proof";
          proof.addEventListener("click", async () => {
            try {
              const doc = await api("POST", `${base}/service/${sv.id}/recipients/${r.participant_id}/proof`);
              const res = await fetch(`${base}/documents/${doc.id}`, { headers: { Authorization: "Bearer " + token } });
              const a = document.createElement("a"); a.href = URL.createObjectURL(await res.blob()); a.download = "proof-of-service.pdf"; a.click();
            } catch (err) { note(err.detail || "未能生成送达回证。"); }
          });
          td.append(proof);
          if (r.flagged_at || r.deliveries.some((d) => d.status === "failed")) {
            const again = document.createElement("button");
            again.textContent = "重新送达 Retry";
            again.addEventListener("click", async () => {
              try { await api("POST", `${base}/service/${sv.id}/retry`, { deadline_hours: 72 }); openProgress(caseId, "已重新送达。 Tried again."); }
              catch (err) { note(err.detail || "未能重试。"); }
            });
            td.append(again);
          }
          tr.append(td); rows.append(tr);
        }
      }
    }
    const confirming = ["served", "confirmation_applied", "confirmed", "rejected"].includes(c.state);
    show("progress-confirmation", confirming);
    if (confirming) {
      const state = await api("GET", `${base}/confirmation`).catch(() => null);
      $("confirmation-state").textContent = state
        ? `${state.court} · 申请期限 apply by ${when(state.apply_by)} · ` + state.applicants.map((a) => `${a.name}${a.confirmed_at ? " 已确认" : " 未确认"}`).join("，")
          + (state.submitted_at ? ` · 已提交 submitted ${when(state.submitted_at)}` : "")
        : "尚未发起申请。 Not started.";
      show("prepare-form", c.state === "served" && !(state && state.submitted_at));
      if (c.state === "served") {
        const { courts } = await api("GET", "/api/v1/courts");
        $("court").replaceChildren(...courts.map((name) => { const o = document.createElement("option"); o.value = o.textContent = name; return o; }));
        $("prepare-form").onsubmit = async (e) => {
          e.preventDefault();
          try { await api("POST", `${base}/confirmation`, { court: $("court").value }); openProgress(caseId, "已发起，等待各方在线确认。 Started: the parties confirm online."); }
          catch (err) { note(err.detail || "未能发起申请。"); }
        };
      }
    }
    if (view !== currentView) return;  // the mediator has moved on meanwhile
    show("cases", false); show("progress");
  } catch (err) { status(err.detail || "无法打开案件。"); }
}

$("progress-back").addEventListener("click", () => { currentView += 1; show("progress", false); listCases(); });
