// 快处快赔 (/scene, a phone, no account): a driver starts a scene report or joins the other driver's, then step
// by step takes the three scene photos, gives the items, takes the photo of themselves with the vehicle, and
// submits. Each photo is downscaled here (longest side 1600 px, JPEG 0.85) before it is sent; its original's
// SHA-256 and capture time go with it. The report's state is polled every 3 s (已受理，可撤离现场 once accepted);
// once the police made the liability finding, the finding's signing (scene-sign.js) opens here; once both signed,
// each driver may ask for mediation (scene-mediation.js) and, once it is a case, open their join page.
import { ERRORS } from "/static/words.js";
import { mountFindingSigning } from "/static/scene-sign.js";
import { mountMediation, renderMediation } from "/static/scene-mediation.js";

const $ = (id) => document.getElementById(id);
const KEY = "scene-session";  // {token, report, number, driver, name, phone, code, link} in sessionStorage
const MOBILE = /^1[3-9][0-9]{9}$/;
const LONGEST = 1600;
const STEPS = [
  { slot: "front", title: "1/5 车前方全景 The scene from the front", hint: "站在车辆前方，拍下两车和道路。 Stand in front: both vehicles and the road.", camera: "env" },
  { slot: "rear", title: "2/5 车后方全景 The scene from behind", hint: "站在车辆后方，拍下两车和道路。 Stand behind: both vehicles and the road.", camera: "env" },
  { slot: "collision", title: "3/5 碰撞部位 The collision point", hint: "靠近拍下两车接触的部位。 Close up where the vehicles touched.", camera: "env" },
  { items: true },
  { slot: "driver_with_vehicle", title: "5/5 人车合影 You with your vehicle", hint: "本人与车辆（含号牌）合影。 You with your vehicle, its plate visible.", camera: "user" },
  { done: true },
];
const REFUSALS = {
  join_code_refused: "加入码不正确或已失效，请核对编号和加入码。 The join code is wrong or no longer valid.",
  not_an_image: "这不是可识别的照片，请重新拍摄。 This is not a photo we can read; take it again.",
  items_missing: "还有未完成的项目。 Some items are still missing.",
  duplicate: "对方司机已经加入。 The other driver already joined.",
};

let session = JSON.parse(sessionStorage.getItem(KEY) || "null");
let step = 0;
let report = null;
let polling = 0;
let signingMounted = false;

const say = (text) => { $("status").textContent = text || ""; };
const problemText = (p) => (p && (REFUSALS[p.code] || ERRORS[p.code])) || "出现问题，请稍后再试。 Something went wrong; try again.";
function save() { sessionStorage.setItem(KEY, JSON.stringify(session)); }
function screen(id) {
  for (const s of document.querySelectorAll(".step")) s.hidden = s.id !== id;
  window.scrollTo(0, 0);
}

async function call(method, path, body, token = session && session.token) {
  const res = await fetch(path, {
    method,
    headers: { ...(token ? { Authorization: "Bearer " + token } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const out = await res.json().catch(() => null);
  if (!res.ok) throw out || { code: "error" };
  return out;
}

// ------------------------------------------------------------------ start or join

async function loadUnits() {
  const { units } = await call("GET", "/api/v1/public/police-units", null, null);
  const select = $("unit");
  select.replaceChildren(new Option("请选择 Choose", ""));
  for (const u of units) select.append(new Option(u.region ? `${u.name}（${u.region}）` : u.name, u.id));
  if (units.length === 1) select.value = units[0].id;
}

function localNow() {
  const d = new Date(Date.now() - new Date().getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

$("go-start").addEventListener("click", async () => {
  $("occurred").value = localNow();
  screen("s-start");
  try { await loadUnits(); } catch (p) { say(problemText(p)); }
});
$("go-join").addEventListener("click", () => screen("s-join"));

$("s-start").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("start-name").value.trim(), phone = $("start-phone").value.trim();
  if (!$("unit").value || !$("place").value.trim() || !name) { say("请填写全部内容。 Please fill in everything."); return; }
  if (!MOBILE.test(phone)) { say("请填写正确的手机号。 Enter a mainland mobile number."); return; }
  try {
    const out = await call("POST", "/api/v1/public/scene-reports", {
      police_unit_id: $("unit").value,
      occurred_at: new Date($("occurred").value).toISOString(),
      place: $("place").value.trim(), name, phone,
    }, null);
    session = { token: out.token, report: out.report.id, number: out.report.number, driver: 1, name, phone, code: out.join_code, link: out.join_url };
    save(); say("");
    showShare();
  } catch (p) { say(problemText(p)); }
});

$("s-join").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("join-name").value.trim(), phone = $("join-phone").value.trim();
  if (!name || !/^[0-9]{6}$/.test($("join-code").value.trim())) { say("请填写编号、6 位加入码和姓名。 Enter the number, the 6-digit code and your name."); return; }
  if (!MOBILE.test(phone)) { say("请填写正确的手机号。 Enter a mainland mobile number."); return; }
  try {
    const out = await call("POST", "/api/v1/public/scene-reports/join", {
      number: $("join-number").value.trim().toUpperCase(), code: $("join-code").value.trim(), name, phone,
    }, null);
    session = { token: out.token, report: out.report.id, number: out.report.number, driver: 2, name, phone };
    save(); say("");
    goStep(0);
    poll();
  } catch (p) { say(problemText(p)); }
});

function showShare() {
  $("share-number").textContent = session.number;
  $("share-code").textContent = session.code;
  $("share-link").textContent = session.link;
  $("share-link").href = session.link;
  screen("s-share");
  poll();
}
$("share-next").addEventListener("click", () => goStep(0));

// ------------------------------------------------------------------ the steps

function goStep(n) {
  step = n;
  const s = STEPS[n];
  if (s.items) { fillItems(); screen("s-items"); return; }
  if (s.done) { screen("s-done"); render(); return; }
  $("photo-title").textContent = s.title;
  $("photo-hint").textContent = s.hint;
  $("photo-env").parentElement.hidden = s.camera !== "env";
  $("photo-user").parentElement.hidden = s.camera !== "user";
  $("photo-env").value = ""; $("photo-user").value = "";
  $("photo-preview").hidden = true;
  $("photo-progress").hidden = true;
  $("photo-retry").hidden = true;
  const taken = report && report.photos.some((p) => p.slot === s.slot);
  $("photo-state").textContent = taken ? "已上传，可重拍。 Uploaded; you may take it again." : "";
  $("photo-next").disabled = !taken;
  screen("s-photo");
}
$("photo-next").addEventListener("click", () => goStep(step + 1));

// the capture time: EXIF DateTimeOriginal (or DateTime) if the first 128 KiB show one, else the file's time
async function capturedAt(file) {
  const head = new Uint8Array(await file.slice(0, 128 * 1024).arrayBuffer());
  const text = new TextDecoder("latin1").decode(head);
  const m = /(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})/.exec(text);
  if (m) return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`;  // a camera's clock: local (Beijing) time
  return new Date(file.lastModified || Date.now()).toISOString();
}

async function downscale(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, LONGEST / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return await new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("encode"))), "image/jpeg", 0.85));
}

function hex(buffer) { return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join(""); }

function send(url, blob) {  // XMLHttpRequest: it reports the upload's progress
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Authorization", "Bearer " + session.token);
    xhr.setRequestHeader("Content-Type", "image/jpeg");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) $("photo-progress").value = Math.round((100 * e.loaded) / e.total); };
    xhr.onload = () => {
      let out = null;
      try { out = JSON.parse(xhr.responseText); } catch { out = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(out);
      else reject({ status: xhr.status, problem: out });
    };
    xhr.onerror = () => reject({ status: 0 });
    xhr.ontimeout = () => reject({ status: 0 });
    xhr.timeout = 120000;
    xhr.send(blob);
  });
}

let pending = null;  // {url, blob}: the last upload, for a retry

async function upload() {
  $("photo-retry").hidden = true;
  $("photo-progress").hidden = false;
  $("photo-progress").value = 0;
  $("photo-state").textContent = "正在上传… Uploading…";
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await send(pending.url, pending.blob);
      $("photo-progress").value = 100;
      $("photo-state").textContent = "已上传 ✓ Uploaded";
      $("photo-next").disabled = false;
      pending = null;
      await refresh();
      return;
    } catch (err) {
      const busy = err.problem && err.problem.code === "concurrent_update";  // the other phone wrote first
      if (err.status >= 400 && err.status < 500 && !busy) {  // refused: another try will not help
        $("photo-state").textContent = problemText(err.problem);
        return;
      }
      await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
    }
  }
  $("photo-state").textContent = "网络中断，上传未完成。 The upload did not finish (network).";
  $("photo-retry").hidden = false;
}
$("photo-retry").addEventListener("click", () => { if (pending) upload(); });

async function onPhoto(input) {
  const file = input.files && input.files[0];
  if (!file) return;
  const s = STEPS[step];
  $("photo-next").disabled = true;
  $("photo-state").textContent = "正在处理照片… Preparing the photo…";
  try {
    const original = await file.arrayBuffer();
    const sha = hex(await crypto.subtle.digest("SHA-256", original));
    const when = await capturedAt(file);
    const blob = await downscale(file);
    $("photo-preview").src = URL.createObjectURL(blob);
    $("photo-preview").hidden = false;
    const q = new URLSearchParams({ slot: s.slot, original_sha256: sha, original_size: String(file.size), captured_at: when });
    pending = { url: `/api/v1/scene-reports/${session.report}/photos?${q}`, blob };
  } catch {
    $("photo-state").textContent = "无法读取这张照片，请重新拍摄。 This photo cannot be read; take it again.";
    return;
  }
  await upload();
}
$("photo-env").addEventListener("change", () => onPhoto($("photo-env")));
$("photo-user").addEventListener("change", () => onPhoto($("photo-user")));

function fillItems() {
  const me = (report && report.me) || {};
  $("licence").value = me.licence_number || $("licence").value;
  $("plate").value = me.plate || $("plate").value;
  $("insurer").value = me.insurer || $("insurer").value;
  $("damaged").value = me.damaged_part || $("damaged").value;
}

$("s-items").addEventListener("submit", async (e) => {
  e.preventDefault();
  const licence = $("licence").value.trim().toUpperCase(), plate = $("plate").value.trim().toUpperCase();
  if (!/^[0-9A-Z]{15,18}$/.test(licence)) { say("驾驶证号为 15-18 位数字或字母。 The licence number has 15-18 digits or letters."); return; }
  if (!/^[\u4e00-\u9fff][A-Z][A-Z0-9]{5,6}$/.test(plate)) { say("请填写正确的号牌号码，如 浙A12345。 Enter a plate such as 浙A12345."); return; }
  try {
    report = await call("PUT", `/api/v1/scene-reports/${session.report}/items`, {
      name: session.name, phone: session.phone, licence_number: licence, plate,
      insurer: $("insurer").value.trim(), damaged_part: $("damaged").value.trim(),
    });
    say("");
    goStep(step + 1);
  } catch (p) { say(problemText(p)); }
});

$("complete").addEventListener("click", async () => {
  try {
    report = await call("POST", `/api/v1/scene-reports/${session.report}/complete`);
    say("");
    render();
  } catch (p) {
    say(problemText(p) + (p && p.code === "items_missing" ? ` ${p.detail.replace("Still missing: ", "")}` : ""));
  }
});
$("edit").addEventListener("click", () => goStep(0));

// ------------------------------------------------------------------ the report's state

function render() {
  if (!report) return;
  const state = $("state");
  state.hidden = false;
  state.textContent = `${report.number} · ${report.state_name}`;
  state.className = "state " + report.state;
  if (report.state === "returned" && report.returned_reason) say(`交警退回：${report.returned_reason} Returned by the police.`);
  const missing = $("missing");
  missing.replaceChildren(...report.missing.map((m) => Object.assign(document.createElement("li"), { textContent: `未完成：${m}` })));
  const other = report.other;
  $("other").textContent = other
    ? `对方司机 The other driver：${other.name || "—"} ${other.plate || ""} ${other.completed ? "已提交 ✓ submitted" : "填报中 still filling in"}`
    : "对方司机尚未加入。 The other driver has not joined yet.";
  const editable = report.state === "started" || report.state === "returned";
  $("complete").hidden = !editable || report.me.completed;
  $("edit").hidden = !editable;
  if ((report.state === "found" || report.state === "signed") && !signingMounted) {
    signingMounted = true;
    screen("s-done");
    mountFindingSigning($("finding"), session.report, session.token);
  }
  if (report.state === "mediation" && $("s-done").hidden) screen("s-done");
  renderMediation(report, mediationContext());
  if (["signed", "mediation", "closed"].includes(report.state)) import("/static/claim-scene.js").then((m) => m.mountSceneClaim(session.report, session.token, report));
}

let mediationMounted = false;
function mediationContext() {
  const ctx = {
    reportId: session.report, token: session.token, say, problemText,
    update: (r) => { report = r; render(); },
  };
  if (!mediationMounted) { mediationMounted = true; mountMediation(ctx); }
  return ctx;
}

async function refresh() {
  try {
    report = await call("GET", `/api/v1/scene-reports/${session.report}`);
    render();
  } catch (p) {
    if (p && (p.code === "token_expired" || p.code === "token_revoked" || p.code === "unauthenticated")) {
      sessionStorage.removeItem(KEY);
      clearInterval(polling);
      say(problemText(p));
    }
  }
}

function poll() {
  clearInterval(polling);
  refresh();
  polling = setInterval(refresh, 3000);
}

// ------------------------------------------------------------------ opening the page

const joinLink = /(?:^|[#&])join=(KC-[0-9]{8}-[0-9]{4,6})\.([0-9]{6})/.exec(location.hash);
if (joinLink) {
  history.replaceState(null, "", location.pathname);  // the code leaves the address bar
  $("join-number").value = joinLink[1];
  $("join-code").value = joinLink[2];
  screen("s-join");
} else if (session) {
  goStep(STEPS.length - 1);  // the summary: what is missing, the state; "change something" goes back
  poll();
} else {
  screen("s-begin");
}
