// The party's page: check the devices, read the recording notice, join, take part.
import { RoomClient, T, ERRORS, chatLine, Captions } from "/static/call.js";
import { takeLinkToken } from "/static/link.js";
import { showPartyFacts } from "/static/facts-party.js";
import { showPeriodNotice } from "/static/period-party.js";
import { showRelief } from "/static/relief-party.js";
import { showAppraisals } from "/static/appraisal-party.js";
import { showClaims } from "/static/claim-party.js";
import "/static/address.js";  // 送达地址确认书 at intake (runs itself on this page)
import { stateName } from "/static/words.js";

const $ = (id) => document.getElementById(id);
const show = (id, on = true) => { $(id).hidden = !on; };
const token = takeLinkToken();  // from the link's #token=…, then out of the address bar (kept in this tab)

const SIGNING_OPENED = ["signing", "signed", "signing_expired", "serving", "served", "service_failed",
  "confirmation_applied", "confirmed", "rejected", "closed"];

function status(text) { $("status").textContent = text; }

async function api(path) {
  const res = await fetch(path, { headers: { Authorization: "Bearer " + token } });
  const body = await res.json();
  if (!res.ok) throw body;
  return body;
}

function meter(stream) {
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  ctx.createMediaStreamSource(stream).connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  const tick = () => {
    analyser.getByteTimeDomainData(data);
    let peak = 0;
    for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
    $("mic-level").style.width = Math.min(100, peak * 1.5) + "%";
    if (!$("check").hidden) requestAnimationFrame(tick);
  };
  tick();
}

// The agreement's drafts: each version's PDF, what everyone said about it, and a comment box.
async function loadDrafts(caseId) {
  const base = `/api/v1/cases/${encodeURIComponent(caseId)}`;
  let drafts;
  try { ({ drafts } = await api(`${base}/agreement/drafts`)); } catch { return false; }
  if (!drafts.length) return false;
  const list = $("draft-list");
  list.replaceChildren();
  for (const d of [...drafts].reverse()) {
    const item = document.createElement("li");
    item.dataset.version = d.version;
    const title = document.createElement("p");
    title.className = "draft-title";
    title.textContent = `第 ${d.version} 稿 Draft ${d.version} · ${new Date(d.drafted_at).toLocaleString("zh-CN")}`;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "open-pdf";
    open.textContent = "查看协议 View PDF";
    open.addEventListener("click", async () => {
      const res = await fetch(`${base}/documents/${encodeURIComponent(d.pdf_document_id)}`, { headers: { Authorization: "Bearer " + token } });
      if (!res.ok) { $("comment-status").textContent = "无法打开协议。The draft could not be opened."; return; }
      const link = document.createElement("a");
      link.href = URL.createObjectURL(await res.blob());
      link.download = `agreement-draft-${d.version}.pdf`;
      link.className = "pdf-link";
      link.textContent = `下载第 ${d.version} 稿 Download draft ${d.version}`;
      open.replaceWith(link);
    });
    item.append(title, open);
    for (const c of d.comments) {
      const line = document.createElement("p");
      line.className = "draft-comment";
      const who = document.createElement("b");
      who.textContent = (c.name || "") + "：";
      line.append(who, c.text);
      item.append(line);
    }
    list.append(item);
  }
  const latest = drafts[drafts.length - 1].version;
  $("comment-form").onsubmit = async (e) => {
    e.preventDefault();
    const text = $("comment-text").value.trim();
    if (!text) return;
    const res = await fetch(`${base}/agreement/drafts/${latest}/comments`, {
      method: "POST",
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify({ text }),
    });
    if (res.ok) { $("comment-text").value = ""; $("comment-status").textContent = "已提交。Sent."; await loadDrafts(caseId); }
    else { $("comment-status").textContent = "提交失败，请重试。Not sent: please try again."; }
  };
  show("drafts");
  return true;
}

// Electronic service: the party's consent (channels) and what reached their platform inbox.
async function loadService(caseId) {
  const base = `/api/v1/cases/${encodeURIComponent(caseId)}/service`;
  let mine;
  try { ({ consents: [mine] } = await api(`${base}/consent`)); } catch { return; }
  if (!mine) return;
  for (const box of document.querySelectorAll("#consent-form input[name=channel]")) {
    const address = (mine.addresses || {})[box.value];
    box.checked = mine.channels.includes(box.value);
    if (box.value !== "inbox" && !address) box.disabled = true;
    const label = document.querySelector(`#consent-form .addr[data-channel="${box.value}"]`);
    if (label) label.textContent = address ? `（${address}）` : "（未登记 not registered）";
  }
  if (mine.at) $("consent-status").textContent = `已于 ${new Date(mine.at).toLocaleString("zh-CN")} 确认。Confirmed.`;
  $("consent-form").onsubmit = async (e) => {
    e.preventDefault();
    const channels = [...document.querySelectorAll("#consent-form input[name=channel]:checked")].map((b) => b.value);
    const res = await fetch(`${base}/consent`, {
      method: "POST",
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify({ channels }),
    });
    $("consent-status").textContent = res.ok ? "已确认。Confirmed." : "未能保存，请重试。Not saved: please try again.";
  };
  try {
    const { services } = await api(`${base}/inbox`);
    if (services.length) {
      $("inbox").replaceChildren(...services.map((sv) => {
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = sv.link;
        a.textContent = `${sv.title} · ${new Date(sv.started_at).toLocaleString("zh-CN")}`;
        li.append(a);
        return li;
      }));
    }
  } catch { /* no inbox: nothing to list */ }
  show("service");
}

// The recordings, where this platform lets parties play them back (otherwise the server says 403).
async function loadRecordings(caseId) {
  const id = encodeURIComponent(caseId);
  let sessions;
  try { ({ sessions } = await api(`/api/v1/cases/${id}/recording/sessions`)); } catch { return; }
  if (!sessions.length) return;
  $("recordings").href = `/playback?case=${id}#token=${encodeURIComponent(token)}`;
  show("recordings");
}

// After a session has ended, each party may rate it once (the mediator never sees it).
async function loadRating(caseId, sessions) {
  const ended = sessions.filter((x) => x.status === "ended");
  if (!ended.length) return;
  const url = `/api/v1/cases/${encodeURIComponent(caseId)}/sessions/${encodeURIComponent(ended[ended.length - 1].id)}/rating`;
  const res = await fetch(url, { headers: { Authorization: "Bearer " + token } });
  if (!res.ok) return;  // not a party (an observer)
  const mine = await res.json();
  if (mine.rated || !mine.ended) return;
  show("rating");
  $("rating-form").onsubmit = async (e) => {
    e.preventDefault();
    const picked = document.querySelector("input[name='score']:checked");
    if (!picked) return;
    const sent = await fetch(url, {
      method: "POST",
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify({ score: Number(picked.value), comment: $("rating-comment").value.trim() }),
    });
    if (sent.ok) { $("rating-form").hidden = true; $("rating-status").textContent = "感谢您的评价。 Thank you."; }
    else { const body = await sent.json().catch(() => ({})); $("rating-status").textContent = ERRORS[body.code] || "未能提交。 Not sent."; }
  };
}

// Judicial confirmation: once the mediator has named the court, each party applies from here.
async function loadConfirmation(caseId, me) {
  const base = `/api/v1/cases/${encodeURIComponent(caseId)}/confirmation`;
  let state;
  try { state = await api(base); } catch { return; }
  const mine = state.applicants.find((a) => a.participant_id === me.participant_id);
  const by = new Date(state.apply_by).toLocaleString("zh-CN");
  $("confirmation-text").textContent = state.submitted_at
    ? `申请已提交${state.court}（${new Date(state.submitted_at).toLocaleString("zh-CN")}）。`
    : `调解员已准备向${state.court}申请确认本调解协议的效力，请于 ${by} 前确认。`;
  const button = $("confirm-application");
  button.hidden = !mine || Boolean(mine.confirmed_at) || Boolean(state.submitted_at);
  if (mine && mine.confirmed_at) $("confirmation-status").textContent = "您已确认。 You have applied.";
  button.onclick = async () => {
    const res = await fetch(`${base}/confirm`, { method: "POST", headers: { Authorization: "Bearer " + token } });
    const body = await res.json().catch(() => ({}));
    $("confirmation-status").textContent = res.ok ? "您已确认。 You have applied." : (body.detail || "未能确认。 Not confirmed.");
    if (res.ok) button.hidden = true;
  };
  show("confirmation");
}

async function main() {
  if (!token) { status("链接不完整。Your link is incomplete."); return; }
  let me;
  let caseState = "";
  let sessions = [];
  try {
    me = await api("/api/v1/me");
    const c = await api("/api/v1/cases/" + encodeURIComponent(me.case_id));
    caseState = c.state;
    sessions = c.sessions || [];
    $("case-number").textContent = c.number;
    $("case-title").textContent = c.title;
    $("your-role").textContent = T[c.your_role] || c.your_role;
    $("case-state").textContent = stateName(c.state);  // e.g. 已委派待分派 for an application still in the queue
  } catch (err) {
    status(ERRORS[err && err.code] || "无法打开此链接。This link cannot be opened.");
    return;
  }
  status(`您好，${me.display_name}。 Welcome.`);
  show("case");
  showPartyFacts(me.case_id, token);  // the record of undisputed facts, once the mediator drafted one
  showPeriodNotice(me.case_id, token);  // the mediator asks to extend the mediation period: agree here
  showRelief(me.case_id, token);  // the relief fund: apply for an advance, follow each step (已垫付)
  showAppraisals(me.case_id, token, me.participant_id);  // online appraisal: consent, the opinion, evaluate, apply again
  showClaims(me.case_id, token, caseState);  // one-click claim (一键理赔): one button, then each step (已支付)
  if (SIGNING_OPENED.includes(caseState)) {
    // signing is open (or done): the page to read, sign, and fetch the signed file and its certificate
    $("sign-link").href = "/sign#token=" + encodeURIComponent(token);
    if (caseState !== "signing") $("sign-link").textContent = "查看已签署的协议 See the signed agreement";
    show("sign-link");
  }
  loadRecordings(me.case_id);
  loadRating(me.case_id, sessions);
  const hasDrafts = await loadDrafts(me.case_id);
  if (hasDrafts) await loadService(me.case_id);
  if (["served", "confirmation_applied", "confirmed", "rejected"].includes(caseState)) await loadConfirmation(me.case_id, me);
  // the device check and the room are for sessions; after them the drafts are what matters
  if (hasDrafts && !["session_scheduled", "in_session", "between_sessions"].includes(caseState)) return;
  show("check");

  const client = new RoomClient({ token, tiles: $("tiles"), localVideo: $("self") });
  const captions = new Captions($("captions"));
  client.addEventListener("caption", (e) => captions.show(e.detail));
  window.__room = client;  // diagnostics and tests
  // Every control is live before the camera opens (that can take seconds): a notice accepted
  // or a Join pressed early must count. Joining waits for the devices to settle.
  const devices = client.openDevices().then((stream) => {
    $("preview").srcObject = stream;
    meter(stream);
  }, () => {
    $("device-error").textContent = "无法使用摄像头或麦克风，请检查浏览器权限。Camera or microphone unavailable: check the browser's permissions.";
    show("device-error");
  });
  const consentChanged = () => { $("join").disabled = !$("consent").checked; };
  $("consent").addEventListener("change", consentChanged);
  consentChanged();
  $("join").addEventListener("click", async () => {
    client.consent = $("consent").checked;
    show("check", false); show("call");
    status("正在连接… Connecting…");
    await devices;
    client.connect();
  });

  client.addEventListener("joined", (e) => {
    status(e.detail.presence === "waiting" ? "请稍候，调解员将准许您进入。 Please wait: the mediator will let you in." : "已进入调解。 You are in the session.");
  });
  client.addEventListener("room", (e) => {
    const room = e.detail;
    const mine = room.me;
    if (mine && mine.presence === "admitted") status(room.started ? "调解进行中。 The session is in progress." : "等待调解员开始。 Waiting for the mediator to start.");
    if (mine && mine.presence === "waiting") status("请稍候，调解员将准许您进入。 Please wait: the mediator will let you in.");
    if (mine && mine.presence === "denied") status("调解员暂未准许您进入。 The mediator has not let you in.");
    show("rec", Boolean(room.recording));
    const banner = $("banner");
    if (room.caucus) {
      banner.textContent = room.in_caucus ? "您正在与调解员单独沟通。 You are speaking privately with the mediator."
        : "调解员正在与另一方单独沟通，请稍候。 The mediator is speaking privately with the other side; please wait.";
      show("banner");
    } else show("banner", false);
    if (mine && mine.muted.includes("audio")) status("调解员已将您静音。 The mediator has muted you.");
  });
  client.addEventListener("chat", (e) => { $("chat-lines").append(chatLine(e.detail, client.me && client.me.participant_id)); show("chat"); });
  client.addEventListener("problem", (e) => { const d = e.detail || {}; status(ERRORS[d.code] || d.message || "出现问题。Something went wrong."); });
  // the room is over for this page: the line at the top says so too (it said "in progress")
  const gone = (headline, text) => { show("call", false); status(headline); $("gone-text").textContent = text; show("gone"); };
  for (const [name, headline, text] of [
    ["removed", "您已不在本次调解中。 You are no longer in the session.", "您已被调解员移出本次调解。 The mediator removed you from the session."],
    ["ended", "本次调解已结束。 The session has ended.", "感谢参与。后续安排（协议草稿、签署）将显示在本页面。 Thank you. What comes next (the draft agreement, signing) will appear on this page."],
    ["replaced", "您已在另一处加入。 You joined from another window.", "本窗口已不在调解中。 This window has left the session."]]) {
    client.addEventListener(name, () => gone(headline, text));
  }

  const toggle = (button, kind) => {
    const on = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", String(on));
    client.setEnabled(kind, on);
  };
  $("mic").addEventListener("click", () => toggle($("mic"), "audio"));
  $("cam").addEventListener("click", () => toggle($("cam"), "video"));
  $("chat-toggle").addEventListener("click", () => show("chat", $("chat").hidden));
  $("chat-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("chat-text").value.trim();
    if (!text) return;
    const ack = await client.call("chat", { text });
    if (ack.ok) $("chat-text").value = ""; else status(ERRORS[ack.code] || ack.message);
  });
  $("leave").addEventListener("click", async () => {
    await client.leave();
    gone("您已离开调解。 You left the session.", "如需继续，请重新加入。 To take part again, join again.");
    show("rejoin");
  });
  $("rejoin").addEventListener("click", () => window.location.reload());
}

main();
