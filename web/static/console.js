// The mediator's console: log in, pick a case, host the session.
import { RoomClient, T, ERRORS, chatLine, Captions } from "/static/call.js";

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
      for (const v of [c.number, c.title, c.state]) { const td = document.createElement("td"); td.textContent = v; tr.append(td); }
      const td = document.createElement("td");
      const b = document.createElement("button");
      b.textContent = "进入调解室 Open room";
      b.dataset.caseId = c.id;
      b.addEventListener("click", () => openRoom(c.id));
      td.append(b);
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
  } catch (err) {
    token = null; sessionStorage.removeItem("mediation-token"); show("login"); show("cases", false);
    if (err && err.code && err.code !== "unauthenticated") status(ERRORS[err.code] || err.detail);
  }
}

function control(event, payload) {
  return client.call(event, payload).then((ack) => { if (!ack.ok) status(ERRORS[ack.code] || ack.message); return ack; });
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
  $("rec").hidden = !room.recording;
  $("lock").setAttribute("aria-pressed", String(Boolean(room.locked)));
  show("caucus-end", Boolean(room.caucus));
  if (room.caucus) { $("banner").textContent = "单独沟通中 Caucus in progress"; show("banner"); } else show("banner", false);
}

async function openRoom(caseId) {
  show("cases", false); show("room");
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
    token = res.token; sessionStorage.setItem("mediation-token", token); status(""); listCases();
  } catch (err) { status(err.code === "too_many_attempts" ? "尝试次数过多，请稍后再试。Too many attempts; try later." : "用户名或密码错误。Wrong user name or password."); }
});
$("logout").addEventListener("click", async () => { await api("POST", "/api/v1/auth/logout").catch(() => {}); token = null; sessionStorage.removeItem("mediation-token"); show("cases", false); show("login"); });
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

if (token) listCases(); else show("login");
