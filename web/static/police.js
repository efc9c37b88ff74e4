// The traffic police's scene-report desk (/police): an officer logs in, watches the unit's queue (refreshed every
// 3 s, submitted first, oldest first), opens a report with both drivers' items and photos (fetched with the
// officer's token), the photos' hashes and the evidence chain's verdict; calls a driver back (tel:), accepts
// (the drivers may leave), returns with a reason, makes the liability finding (each driver's liability with its
// usual share, editable, adding up to 100), and closes. After the finding, the signing's status (scene-sign.js).
import { ERRORS } from "/static/words.js";
import { blobUrl } from "/static/reader.js";
import { mountFindingSigning } from "/static/scene-sign.js";
import { api, deskToken, forgetIfExpired, mountLogin } from "/static/desk-login.js";

const $ = (id) => document.getElementById(id);
const show = (id, on = true) => { $(id).hidden = !on; };
const LIABILITIES = {  // server.domain.scene LIABILITY_NAMES and LIABILITY_SHARES
  full: ["全部责任 Full", 100], major: ["主要责任 Major", 70], equal: ["同等责任 Equal", 50],
  minor: ["次要责任 Minor", 30], none: ["无责任 None", 0],
};
const said = (err, fallback) => (err && ERRORS[err.code]) || fallback;
let current = null;
let timer = 0;
let photoUrls = [];

function status(text) { $("status").textContent = text || ""; }
function detailStatus(text) { $("d-status").textContent = text || ""; }
const beijing = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) : "—");

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}
function facts(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: v })]));
}

// ------------------------------------------------------------------ the queue

async function loadQueue() {
  try {
    const { reports } = await api("GET", "/api/v1/police/scene-reports");
    const rows = $("rows");
    rows.replaceChildren();
    for (const r of reports) {
      const open = el("button", { type: "button", className: "open", textContent: "打开 Open" });
      open.addEventListener("click", () => openReport(r.id));
      const tr = el("tr", {},
        el("td", { textContent: r.number }), el("td", { textContent: r.state_name }),
        el("td", { textContent: r.place }), el("td", { textContent: beijing(r.submitted_at) }), el("td", {}, open));
      tr.dataset.id = r.id;
      tr.dataset.state = r.state;
      rows.append(tr);
    }
    show("empty", !reports.length);
    show("login", false);
    if (!current) show("queue");
  } catch (err) {
    clearInterval(timer);
    forgetIfExpired(err);
    show("queue", false); show("detail", false); show("login");
    if (err && err.code && err.code !== "unauthenticated") status(said(err, "无法打开工作台（仅限交警）。 The desk is for traffic police officers."));
  }
}

async function start() {
  try {
    const mine = await api("GET", "/api/v1/organisations/mine");
    $("organisation").textContent = mine.organisation.name;
  } catch { /* the name is a courtesy */ }
  await loadQueue();
  clearInterval(timer);
  timer = setInterval(() => { if (!current) loadQueue(); }, 3000);
}

// ------------------------------------------------------------------ one report

async function openReport(id) {
  try {
    current = await api("GET", `/api/v1/police/scene-reports/${id}`);
  } catch (err) { status(said(err, "无法打开该上报。 The report cannot be opened.")); return; }
  renderReport();
  show("queue", false); show("detail");
}

function renderReport() {
  const r = current;
  $("d-title").textContent = `${r.number} · ${r.state_name}`;
  facts($("d-facts"), [
    ["事故时间 When", beijing(r.occurred_at)], ["地点 Where", r.place],
    ["提交 Submitted", beijing(r.submitted_at)], ["受理 Accepted", beijing(r.accepted_at)],
    ...(r.returned_reason ? [["退回理由 Returned", r.returned_reason]] : []),
  ]);
  $("d-drivers").replaceChildren(...r.drivers.map((d) => {
    const dl = el("dl", { className: "facts" });
    facts(dl, [
      ["姓名 Name", d.name], ["驾驶证号 Licence", d.licence_number || "—"], ["号牌 Plate", d.plate || "—"],
      ["保险公司 Insurer", d.insurer || "—"], ["受损部位 Damaged", d.damaged_part || "—"],
      ["状态 Part", d.completed ? "已提交 ✓ Submitted" : `未完成：${d.missing.join("、")}`],
    ]);
    const call = el("a", { href: `tel:${d.phone}`, className: "call", textContent: `📞 回拨 Call back ${d.phone}` });
    return el("div", { className: "driver" }, el("h4", { textContent: `司机 ${d.number} Driver ${d.number}` }), dl, call);
  }));
  for (const url of photoUrls) URL.revokeObjectURL(url);
  photoUrls = [];
  $("d-photos").replaceChildren(...r.photos.filter((p) => p.current).map((p) => {
    const img = el("img", { alt: `司机 ${p.driver} ${p.slot_name}`, width: 240 });
    blobUrl(`/api/v1/police/scene-reports/${r.id}/photos/${p.id}`, deskToken())
      .then((url) => { photoUrls.push(url); img.src = url; })
      .catch(() => { img.alt = "无法显示 Cannot be shown"; });
    const caption = el("figcaption", {},
      `司机 ${p.driver} · ${p.slot_name} · ${p.width}×${p.height} · 拍摄 ${beijing(p.captured_at)}`,
      el("br"), el("code", { textContent: `sha256 ${p.sha256.slice(0, 16)}… 原图 ${p.original_sha256.slice(0, 16)}…` }));
    return el("figure", { className: "photo" }, img, caption);
  }));
  const older = r.photos.length - r.photos.filter((p) => p.current).length;
  $("d-chain").textContent = `${r.chain.ok ? "✓ 证据链完整" : "✗ 证据链异常"}（${r.chain.entries} 条记录${older ? `，${older} 张重拍前的照片保留在链中` : ""}） ${r.chain.ok ? "Chain intact" : "Chain broken: " + r.chain.verdict}`;
  show("decide", r.state === "submitted");
  show("finding-form", r.state === "accepted");
  if (r.state === "accepted") buildFindingForm();
  show("close", ["submitted", "returned", "accepted", "found", "signed"].includes(r.state));
  const box = $("d-finding");
  box.replaceChildren();
  if (r.finding) {
    const dl = el("dl", { className: "facts" });
    facts(dl, [
      ...r.finding.drivers.map((d) => [`司机 ${d.number} Driver ${d.number}`, `${d.liability_name} ${d.share}%`]),
      ["事实 Facts", r.finding.facts], ["理由 Reasons", r.finding.reasons],
      ...(r.finding.agreed_amount ? [["协商金额 Agreed", `${r.finding.agreed_amount} 元，司机 ${r.finding.payer} 支付`]] : []),
    ]);
    const signing = el("div");
    box.append(el("h3", { textContent: "责任认定 Liability finding" }), dl, signing);
    mountFindingSigning(signing, r.id, deskToken(), { officer: true }).catch(() => {});
  }
}

function buildFindingForm() {
  const box = $("f-drivers");
  if (box.dataset.report === current.id) return;
  box.dataset.report = current.id;
  box.replaceChildren(...current.drivers.map((d) => {
    const select = el("select", { id: `f-liability-${d.number}` });
    for (const [value, [name]] of Object.entries(LIABILITIES)) select.append(new Option(name, value));
    const share = el("input", { id: `f-share-${d.number}`, type: "number", min: 0, max: 100, value: 50, inputMode: "numeric" });
    select.value = "equal";
    select.addEventListener("change", () => { share.value = LIABILITIES[select.value][1]; });
    return el("fieldset", {}, el("legend", { textContent: `司机 ${d.number} ${d.name} ${d.plate}` }),
      el("label", {}, "责任 Liability ", select), el("label", {}, "承担比例（%） Share ", share));
  }));
}

async function act(path, body, done) {
  detailStatus("");
  try {
    current = await api("POST", `/api/v1/police/scene-reports/${current.id}/${path}`, body);
    renderReport();
    detailStatus(done);
  } catch (err) { detailStatus(said(err, "操作未完成。 Not done.") + (err && err.detail ? `（${err.detail}）` : "")); }
}

$("accept").addEventListener("click", () => act("accept", undefined, "已受理，司机可撤离现场。 Accepted: the drivers may leave."));
$("return").addEventListener("click", () => {
  const reason = $("return-reason").value.trim();
  if (!reason) { detailStatus("请填写退回理由。 Give a reason."); return; }
  act("return", { reason }, "已退回。 Returned to the drivers.");
});
$("close").addEventListener("click", () => act("close", undefined, "已结案。 Closed."));
$("finding-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const drivers = current.drivers.map((d) => ({
    number: d.number, liability: $(`f-liability-${d.number}`).value, share: Number($(`f-share-${d.number}`).value),
  }));
  if (drivers.reduce((sum, d) => sum + d.share, 0) !== 100) { detailStatus("各方比例之和须为 100。 The shares must add up to 100."); return; }
  const amount = $("f-amount").value.trim();
  const payer = $("f-payer").value;
  act("finding", {
    drivers, facts: $("f-facts").value.trim(), reasons: $("f-reasons").value.trim(),
    ...(amount ? { agreed_amount: amount } : {}), ...(payer ? { payer: Number(payer) } : {}),
  }, "已作出责任认定，等待双方签字。 Finding made; awaiting both signatures.");
});

$("back").addEventListener("click", () => { current = null; show("detail", false); loadQueue(); });

// ------------------------------------------------------------------ logging in

mountLogin({ open: start, close: () => { clearInterval(timer); show("queue", false); }, status, said });
