// The appraisal institution's desk (/appraisal): an appraiser logs in, reads the appraisals entrusted to the
// institution, opens one to fetch exactly the materials the mediator sent (nothing else of the case), and uploads
// the signed opinion (PDF); the server checks its signatures and says what it found.
import { APPRAISAL_STATES, PAYER_NAMES, el, said, when } from "/static/appraisal-party.js";

const $ = (id) => document.getElementById(id);
const show = (id, on = true) => { $(id).hidden = !on; };
let token = sessionStorage.getItem("mediation-token");
let current = null;

function status(text) { $("status").textContent = text || ""; }
function detailStatus(text) { $("d-status").textContent = text || ""; }

async function api(method, path, body, type = "application/json") {
  const res = await fetch(path, {
    method,
    headers: { ...(token ? { Authorization: "Bearer " + token } : {}), ...(body ? { "Content-Type": type } : {}) },
    body: body ? (type === "application/json" ? JSON.stringify(body) : body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw data;
  return data;
}

async function loadQueue() {
  try {
    const desk = await api("GET", "/api/v1/appraisal/desk");
    try { $("organisation").textContent = (await api("GET", "/api/v1/organisations/mine")).organisation.name; } catch { /* a courtesy */ }
    const rows = $("rows");
    rows.replaceChildren();
    for (const a of desk.appraisals) {
      const tr = el("tr", undefined, { "data-id": a.id });
      tr.append(el("td", a.case_number), el("td", `${a.subject_name}${a.round > 1 ? `（第 ${a.round} 次）` : ""}`), el("td", a.fee ? `${a.fee} 元` : "—"), el("td", APPRAISAL_STATES[a.state] || a.state));
      const b = el("button", "打开 Open", { type: "button", class: "open" });
      b.addEventListener("click", () => openAppraisal(a.id));
      const td = el("td"); td.append(b); tr.append(td);
      rows.append(tr);
    }
    show("empty", !desk.appraisals.length);
    show("login", false); show("detail", false); show("queue");
  } catch (err) {
    if (err && ["unauthenticated", "token_expired", "token_revoked"].includes(err.code)) { token = null; sessionStorage.removeItem("mediation-token"); }
    show("queue", false); show("detail", false); show("login");
    if (err && err.code && err.code !== "unauthenticated") status(said(err, "无法打开工作台。 The desk cannot be opened."));
  }
}

async function download(doc) {
  const res = await fetch(`/api/v1/appraisal/desk/${current.id}/materials/${doc.id}`, { headers: { Authorization: "Bearer " + token } });
  if (!res.ok) { detailStatus("无法下载。 Cannot download."); return; }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await res.blob());
  link.download = doc.title;
  link.click();
}

function render(a) {
  current = a;
  $("d-title").textContent = `${a.case_number} · ${a.subject_name}`;
  const dl = $("d-facts");
  dl.replaceChildren();
  for (const [k, v] of [["鉴定事项 Subject", `${a.subject_name}${a.description ? "：" + a.description : ""}`], ["状态 State", APPRAISAL_STATES[a.state] || a.state], ["鉴定费用 Fee", a.fee ? `${a.fee} 元，${PAYER_NAMES[a.fee_payer] || a.fee_payer}承担` : "—"], ["更新时间 Last change", when(a.updated_at)]]) dl.append(el("dt", k), el("dd", v));
  $("d-materials").replaceChildren(...a.materials.map((d) => {
    const li = el("li", undefined, { "data-id": d.id });
    const b = el("button", `${d.title} 下载 Download`, { type: "button", class: "material" });
    b.addEventListener("click", () => download(d));
    li.append(b);
    return li;
  }));
  if (!a.materials.length) $("d-materials").append(el("li", "调解员尚未送交材料。 No materials sent yet."));
  show("opinion", a.state === "appointed");
  const check = a.opinion_check;
  $("d-opinion").textContent = a.opinion && check
    ? `鉴定意见书已上传，有效签名 ${check.valid_signatures} 个（${check.signatures.map((s) => s.signer).join("、")}）。 Opinion uploaded.`
    : "";
  show("queue", false); show("detail");
}

async function openAppraisal(id) {
  detailStatus("");
  try { render(await api("GET", `/api/v1/appraisal/desk/${id}`)); } catch (err) { status(said(err, "无法打开。 Cannot open.")); }
}

$("opinion").addEventListener("submit", async (e) => {
  e.preventDefault();
  const file = $("opinion-file").files[0];
  if (!file) return;
  detailStatus("正在核验签名… Checking the signatures…");
  try { render(await api("POST", `/api/v1/appraisal/desk/${current.id}/opinion`, await file.arrayBuffer(), "application/pdf")); detailStatus("已上传鉴定意见书。 Uploaded."); }
  catch (err) { detailStatus(said(err, "未能上传。 Not uploaded.") + (err && err.code === "unsigned_opinion" ? `（${err.detail}）` : "")); }  // what the check found
});
$("back").addEventListener("click", loadQueue);
$("refresh").addEventListener("click", loadQueue);
$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const res = await api("POST", "/api/v1/auth/login", { username: $("username").value, password: $("password").value });
    token = res.token;
    sessionStorage.setItem("mediation-token", token);
    status("");
    await loadQueue();
  } catch (err) { status(said(err, "登录失败。 Login failed.")); }
});
$("logout").addEventListener("click", async () => {
  try { await api("POST", "/api/v1/auth/logout"); } catch { /* gone either way */ }
  token = null; sessionStorage.removeItem("mediation-token"); show("queue", false); show("login");
});
if (token) loadQueue(); else show("login");
