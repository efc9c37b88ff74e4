// The relief fund's desk (/fund): a fund officer logs in, reads the queue with the fund's recovery figures
// (advanced, recovered, outstanding), opens an application with the documents attached to it (no other
// document of the case), asks for more, approves and records the payment (已垫付) or refuses with reasons,
// then tracks recovery from the liable party (追偿) in parts, or writes the rest off.
import { ERRORS } from "/static/words.js";
import { GROUNDS, KINDS, RELIEF_STATES, RELIEF_STEPS, when } from "/static/relief-party.js";
import { api, download, forgetIfExpired, mountLogin } from "/static/desk-login.js";

const $ = (id) => document.getElementById(id);
const show = (id, on = true) => { $(id).hidden = !on; };
const said = (err, fallback) => (err && ERRORS[err.code]) || fallback + (err && err.detail ? `（${err.detail}）` : "");
const RECOVERY = { open: "待追偿 Open", partly_recovered: "部分追回 Partly recovered", recovered: "已追回 Recovered", written_off: "已核销 Written off" };
let current = null;

function status(text) { $("status").textContent = text || ""; }
function detailStatus(text) { $("d-status").textContent = text || ""; }

function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.append(td); return td; }
function facts(dl, pairs) {
  dl.replaceChildren();
  for (const [k, v] of pairs) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    dl.append(dt, dd);
  }
}
const today = () => new Date().toLocaleDateString("sv-SE", { timeZone: "Asia/Shanghai" });

async function loadQueue() {
  try {
    const desk = await api("GET", "/api/v1/relief/applications");
    try {
      const mine = await api("GET", "/api/v1/organisations/mine");
      $("organisation").textContent = mine.organisation.name;
    } catch { /* the name is a courtesy */ }
    facts($("figures"), [["已垫付 Advanced", `${desk.figures.advanced} 元`], ["已追回 Recovered", `${desk.figures.recovered} 元`], ["待追偿 Outstanding", `${desk.figures.outstanding} 元`]]);
    const rows = $("rows");
    rows.replaceChildren();
    for (const a of desk.applications) {
      const tr = document.createElement("tr");
      tr.dataset.id = a.id;
      cell(tr, a.case_number); cell(tr, GROUNDS[a.ground] || a.ground); cell(tr, KINDS[a.advance_kind] || a.advance_kind);
      cell(tr, `${a.asked} 元`); cell(tr, RELIEF_STATES[a.state] || a.state);
      cell(tr, a.recovery_status ? `${RECOVERY[a.recovery_status]}（${a.outstanding} 元）` : "—");
      const b = document.createElement("button");
      b.className = "open"; b.type = "button"; b.textContent = "打开 Open";
      b.addEventListener("click", () => openApplication(a.id));
      cell(tr, "").append(b);
      rows.append(tr);
    }
    show("empty", !desk.applications.length);
    show("login", false); show("detail", false); show("queue");
  } catch (err) {
    forgetIfExpired(err);
    show("queue", false); show("detail", false); show("login");
    if (err && err.code && err.code !== "unauthenticated") status(said(err, "无法打开工作台。 The desk cannot be opened."));
  }
}

async function evidence(doc) {
  if (!(await download(`/api/v1/relief/applications/${current.id}/evidence/${doc.id}`, doc.title))) detailStatus("无法下载。 Cannot download.");
}

function render(a) {
  current = a;
  $("d-title").textContent = `${a.case_number} · ${a.advance_name} · ${a.ground_name}`;
  facts($("d-facts"), [
    ["申请人 Applicant", a.party_name], ["申请金额 Asked", `${a.asked} 元`], ["收款方 Payee", a.payee],
    ["情况说明 What happened", a.description || "—"], ["状态 State", RELIEF_STATES[a.state] || a.state],
    ["核准金额 Approved", a.approved ? `${a.approved} 元` : "—"], ["支付 Payment", a.paid_on ? `${a.paid_on} · ${a.payment_reference}` : "—"],
    ["基金说明 Note", a.note || "—"],
  ]);
  const ev = $("d-evidence");
  ev.replaceChildren();
  for (const d of a.evidence) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button"; b.textContent = `${d.title}（${d.media_type}）`;
    b.addEventListener("click", () => evidence(d));
    li.append(b); ev.append(li);
  }
  if (!a.evidence.length) { const li = document.createElement("li"); li.textContent = "无 None"; ev.append(li); }
  const steps = $("d-steps");
  steps.replaceChildren();
  for (const s of a.steps) {
    const li = document.createElement("li");
    li.textContent = `${when(s.at)} ${RELIEF_STEPS[s.action] || s.action}${s.note ? "：" + s.note : ""}`;
    steps.append(li);
  }
  show("decide", a.state === "submitted");
  $("approve-amount").value = a.asked;
  $("approve-payee").value = a.payee;
  $("decide-note").value = "";
  show("pay", a.state === "approved");
  $("pay-date").value = today();
  show("recovery", !!a.recovery);
  if (a.recovery) {
    const r = a.recovery;
    facts($("r-facts"), [
      ["追偿状态 Status", RECOVERY[r.status] || r.status], ["责任人 Liable", r.liable_name],
      ["垫付 Advanced", `${r.advanced} 元`], ["已追回 Recovered", `${r.recovered} 元`], ["待追偿 Outstanding", `${r.outstanding} 元`],
      ...(r.written_off_reason ? [["核销理由 Written off", r.written_off_reason]] : []),
    ]);
    const got = $("r-received");
    got.replaceChildren();
    for (const x of r.received) { const li = document.createElement("li"); li.textContent = `${x.received_on} · ${x.amount} 元 · ${x.reference}`; got.append(li); }
    const sel = $("liable-party");
    sel.replaceChildren();
    const none = document.createElement("option"); none.value = ""; none.textContent = "未查明（逃逸） Unknown: fled"; sel.append(none);
    for (const p of a.parties) { const o = document.createElement("option"); o.value = p.participant_id; o.textContent = `${p.name}（${p.role_name}）`; sel.append(o); }
    sel.value = r.liable_participant_id || "";
    const open = r.status === "open" || r.status === "partly_recovered";
    show("recover", open); show("write-off", open);
    $("recover-date").value = today();
  }
  show("queue", false); show("detail");
}

async function openApplication(id) {
  detailStatus("");
  try { render(await api("GET", `/api/v1/relief/applications/${id}`)); }
  catch (err) { status(said(err, "无法打开申请。 The application cannot be opened.")); }
}

async function act(path, body, done, method = "POST") {
  detailStatus("");
  try { render(await api(method, `/api/v1/relief/applications/${current.id}/${path}`, body)); detailStatus(done); }
  catch (err) { detailStatus(said(err, "未能保存。 Not saved.")); }
}

$("approve").addEventListener("click", () => act("decision", { decision: "approve", amount: $("approve-amount").value.trim(), payee: $("approve-payee").value, note: $("decide-note").value }, "已核准。 Approved."));
$("ask-more").addEventListener("click", () => act("decision", { decision: "ask_more", note: $("decide-note").value }, "已要求补充材料。 More material asked."));
$("refuse").addEventListener("click", () => act("decision", { decision: "refuse", note: $("decide-note").value }, "已决定不予垫付。 Refused."));
$("pay").addEventListener("submit", (e) => { e.preventDefault(); act("payment", { reference: $("pay-reference").value, paid_on: $("pay-date").value }, "已登记垫付。 Recorded as paid."); });
$("liable").addEventListener("submit", (e) => { e.preventDefault(); act("liable", { participant_id: $("liable-party").value || null }, "已保存。 Saved.", "PUT"); });
$("recover").addEventListener("submit", (e) => {
  e.preventDefault();
  act("recoveries", { amount: $("recover-amount").value.trim(), received_on: $("recover-date").value, reference: $("recover-reference").value }, "已登记追回款项。 Recorded.");
});
$("write-off").addEventListener("submit", (e) => { e.preventDefault(); act("write-off", { reason: $("write-off-reason").value }, "已核销。 Written off."); });
$("back").addEventListener("click", loadQueue);
$("refresh").addEventListener("click", loadQueue);
mountLogin({ open: loadQueue, close: () => show("queue", false), status, said });
