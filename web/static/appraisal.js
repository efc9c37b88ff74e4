// The appraisal institution's desk (/appraisal): an appraiser logs in, reads the appraisals entrusted to the
// institution, opens one to fetch exactly the materials the mediator sent (nothing else of the case), and uploads
// the signed opinion (PDF); the server checks its signatures and says what it found.
import { APPRAISAL_STATES, PAYER_NAMES, el, said, when } from "/static/appraisal-party.js";
import { api, download, forgetIfExpired, mountLogin } from "/static/desk-login.js";

const $ = (id) => document.getElementById(id);
const show = (id, on = true) => { $(id).hidden = !on; };
let current = null;

function status(text) { $("status").textContent = text || ""; }
function detailStatus(text) { $("d-status").textContent = text || ""; }

const SPECIALTIES = {
  injury: "法医临床 Injury", disability: "伤残等级 Disability grade", vehicle_damage: "车辆损失 Vehicle damage",
  pathology: "法医病理 Pathology", toxicology: "法医毒物 Toxicology", traffic_trace: "交通事故痕迹 Traces", vehicle_safety: "车辆安全技术 Vehicle safety",
};
let organisationId = null;

// the institution's administrator sets its specialties here; its appraisers work the desk
async function loadSpecialties() {
  const mine = (await api("GET", "/api/v1/organisations/mine")).organisation;
  organisationId = mine.id;
  $("organisation").textContent = mine.name;
  const listed = ((await api("GET", "/api/v1/appraisal/institutions")).institutions.find((i) => i.id === mine.id) || { specialties: [] }).specialties;
  $("specialty-boxes").replaceChildren(...Object.entries(SPECIALTIES).map(([value, words]) => {
    const box = el("input", undefined, { type: "checkbox", value });
    box.checked = listed.includes(value);
    const label = el("label", "", { class: "specialty" });
    label.append(box, ` ${words}`);
    return label;
  }));
  show("login", false); show("queue", false); show("detail", false); show("specialties");
}

async function loadQueue() {
  try {
    if ((await api("GET", "/api/v1/me")).account_kind === "org_admin") { await loadSpecialties(); return; }
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
    forgetIfExpired(err);
    show("queue", false); show("detail", false); show("login");
    if (err && err.code && err.code !== "unauthenticated") status(said(err, "无法打开工作台。 The desk cannot be opened."));
  }
}

async function material(doc) {
  if (!(await download(`/api/v1/appraisal/desk/${current.id}/materials/${doc.id}`, doc.title))) detailStatus("无法下载。 Cannot download.");
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
    b.addEventListener("click", () => material(d));
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
$("specialties").addEventListener("submit", async (e) => {
  e.preventDefault();
  const chosen = [...document.querySelectorAll("#specialty-boxes input:checked")].map((i) => i.value);
  try { await api("PUT", `/api/v1/appraisal/institutions/${organisationId}/specialties`, { specialties: chosen }); status("已保存。 Saved."); }
  catch (err) { status(said(err, "未能保存。 Not saved.")); }
});
$("admin-logout").addEventListener("click", () => $("logout").click());
$("back").addEventListener("click", loadQueue);
$("refresh").addEventListener("click", loadQueue);
mountLogin({ open: loadQueue, close: () => { show("queue", false); show("specialties", false); }, status, said });
