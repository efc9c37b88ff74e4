// The insurer's desk (/insurer): its claims adjusters and administrator log in and see the queue of claims with the
// payment deadline clock (working days left; overdue in red). An adjuster opens a claim (the agreement's amounts,
// the signed agreement's PDF), accepts it, records payments (to the claimant, or to the repair shop the claimant
// chose: 定修直赔) or refuses it with reasons, each within their authorisation (授权委托书). The administrator
// records authorisations and the repair shops.
import { ERRORS } from "/static/words.js";
import { CLAIM_STATES, claimBody, clock } from "/static/claim-party.js";
import { api, fetchBlob, forgetIfExpired, mountLogin } from "/static/desk-login.js";

const $ = (id) => document.getElementById(id);
const show = (id, on = true) => { $(id).hidden = !on; };
const said = (err, fallback) => (err && ERRORS[err.code]) || fallback + (err && err.detail ? `（${err.detail}）` : "");
let me = null;
let current = null;

function status(text) { $("status").textContent = text || ""; }
function detailStatus(text) { $("d-status").textContent = text || ""; }
const today = () => new Date().toLocaleDateString("sv-SE", { timeZone: "Asia/Shanghai" });

function cell(row, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content); else td.textContent = content;
  row.append(td);
  return td;
}
const li = (text) => { const e = document.createElement("li"); e.textContent = text; return e; };

const AUTH_STATES = { in_force: "在效 In force", revoked: "已撤回 Withdrawn", expired: "已过期 Expired", pending: "未生效 Not yet in force" };

// One authorisation: its terms and state, a link to its signed PDF, and 撤回 (withdraw, confirmed first) while it
// is in force or not yet in force.
function authorisationItem(a) {
  const item = li(`${a.adjuster}：限额 ${a.limit} 元，${a.any_region ? "全国 any region" : a.regions.join("、")}，${a.valid_from} 至 ${a.valid_to} `);
  item.dataset.id = a.id;
  const state = document.createElement("strong");
  state.className = "auth-state"; state.textContent = AUTH_STATES[a.state] || a.state;
  const path = `/api/v1/organisations/${me.organisation.id}/authorisations/${a.id}`;
  const pdf = document.createElement("button");
  pdf.type = "button"; pdf.className = "auth-pdf"; pdf.textContent = "授权委托书 PDF";
  pdf.addEventListener("click", async () => {
    const blob = await fetchBlob(`${path}/document`);
    if (!blob) { $("admin-status").textContent = "无法打开授权委托书。 Cannot open the authorisation."; return; }
    window.open(URL.createObjectURL(blob), "_blank", "noopener");
  });
  item.append(state, " ", pdf);
  if (a.state === "in_force" || a.state === "pending") {
    const revoke = document.createElement("button");
    revoke.type = "button"; revoke.className = "auth-revoke"; revoke.textContent = "撤回 Withdraw";
    revoke.addEventListener("click", async () => {
      if (!confirm(`撤回 ${a.adjuster} 的授权？其此后的受理、支付和拒赔将被拒绝。 Withdraw the authorisation? Their later actions are refused.`)) return;
      try {
        await api("POST", `${path}/revoke`);
        $("admin-status").textContent = "已撤回授权。 Authorisation withdrawn.";
        await loadAdmin();
      } catch (err) { $("admin-status").textContent = said(err, "未能撤回。 Not withdrawn."); }
    });
    item.append(" ", revoke);
  }
  return item;
}

async function loadAdmin() {
  const org = me.organisation.id;
  const [auths, shops, staff] = await Promise.all([
    api("GET", `/api/v1/organisations/${org}/authorisations`),
    api("GET", `/api/v1/organisations/${org}/repair-shops`),
    api("GET", `/api/v1/organisations/${org}/accounts`),
  ]);
  $("authorisations").replaceChildren(...auths.authorisations.map(authorisationItem));
  $("shops").replaceChildren(...shops.repair_shops.map((s) => li(`${s.name}（${s.address}，${s.phone}）`)));
  const sel = $("auth-account");
  sel.replaceChildren();
  for (const a of staff.accounts.filter((x) => x.kind === "claims_adjuster" && !x.disabled)) {
    const o = document.createElement("option"); o.value = a.id; o.textContent = a.display_name; sel.append(o);
  }
  show("admin");
}

async function loadQueue() {
  try {
    me = await api("GET", "/api/v1/organisations/mine");
    $("organisation").textContent = `${me.organisation.name} · ${me.account_kind_name}`;
    const { claims } = await api("GET", "/api/v1/claims");
    const rows = $("rows");
    rows.replaceChildren();
    for (const c of claims) {
      const tr = document.createElement("tr");
      tr.dataset.id = c.id;
      cell(tr, c.case.number); cell(tr, c.claimant.name); cell(tr, `${c.amount} 元`);
      cell(tr, CLAIM_STATES[c.state] || c.state); cell(tr, clock(c));
      const b = document.createElement("button");
      b.className = "open"; b.type = "button"; b.textContent = "打开 Open";
      b.addEventListener("click", () => openClaim(c.id));
      cell(tr, b);
      rows.append(tr);
    }
    show("empty", !claims.length);
    show("login", false); show("detail", false); show("queue");
    if (me.may_manage_accounts) await loadAdmin(); else show("admin", false);
  } catch (err) {
    forgetIfExpired(err);
    show("queue", false); show("detail", false); show("admin", false); show("login");
    if (err && err.code && err.code !== "unauthenticated") status(said(err, "无法打开工作台。 The desk cannot be opened."));
  }
}

function render(c) {
  current = c;
  $("d-title").textContent = `${c.case.number} · ${c.claimant.name} · ${c.amount} 元`;
  $("d-claim").replaceChildren(claimBody(c));
  const doc = c.scene_report ? ["查看电子事故认定书（PDF） ", "The signed accident finding"] : ["查看调解协议（PDF） ", "The signed agreement"];
  const small = document.createElement("small"); small.textContent = doc[1];
  $("d-agreement").replaceChildren(doc[0], small);
  const adjuster = me && me.account_kind === "claims_adjuster";
  const open = c.state === "submitted" || c.state === "accepted";
  show("accept", adjuster && c.state === "submitted");
  show("pay", adjuster && open);
  show("refuse", adjuster && open && c.paid === "0.00");
  const to = $("pay-to");
  to.replaceChildren();
  const claimant = document.createElement("option"); claimant.value = ""; claimant.textContent = `申请人 ${c.claimant.name}`; to.append(claimant);
  if (c.repair_shop) { const o = document.createElement("option"); o.value = c.repair_shop.id; o.textContent = `修理厂 ${c.repair_shop.name}（定修直赔）`; to.append(o); }
  $("pay-amount").value = (Number(c.amount) - Number(c.paid)).toFixed(2);
  $("pay-date").value = today();
  show("queue", false); show("admin", false); show("detail");
}

async function openClaim(id) {
  detailStatus("");
  try { render(await api("GET", `/api/v1/claims/${id}`)); } catch (err) { status(said(err, "无法打开理赔。 The claim cannot be opened.")); }
}

async function act(path, body, done) {
  detailStatus("");
  try { render(await api("POST", `/api/v1/claims/${current.id}/${path}`, body)); detailStatus(done); }
  catch (err) { detailStatus(said(err, "未能保存。 Not saved.")); }
}

$("d-agreement").addEventListener("click", async () => {
  const blob = await fetchBlob(current.agreement_url);
  if (!blob) { detailStatus("无法打开协议。 Cannot open the agreement."); return; }
  window.open(URL.createObjectURL(blob), "_blank", "noopener");
});
$("accept").addEventListener("click", () => act("accept", undefined, "已受理。 Accepted."));
$("pay").addEventListener("submit", (e) => {
  e.preventDefault();
  const shop = $("pay-to").value;
  act("payments", { amount: $("pay-amount").value.trim(), reference: $("pay-reference").value.trim(), paid_on: $("pay-date").value, ...(shop ? { repair_shop_id: shop } : {}) }, "已登记支付。 Payment recorded.");
});
$("refuse").addEventListener("submit", (e) => { e.preventDefault(); act("refusal", { reason: $("refuse-reason").value }, "已拒赔。 Refused."); });
$("authorise").addEventListener("submit", async (e) => {
  e.preventDefault();
  const file = $("auth-pdf").files[0];
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  const regions = $("auth-regions").value.split(/[,，、]/).map((r) => r.trim()).filter(Boolean);
  try {
    await api("POST", `/api/v1/organisations/${me.organisation.id}/authorisations`, {
      account_id: $("auth-account").value, regions, any_region: $("auth-any").checked, limit: $("auth-limit").value.trim(),
      valid_from: $("auth-from").value, valid_to: $("auth-to").value, document_pdf: btoa(binary),
    });
    $("admin-status").textContent = "已登记授权。 Authorisation recorded.";
    await loadAdmin();
  } catch (err) { $("admin-status").textContent = said(err, "未能登记。 Not recorded."); }
});
$("add-shop").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("POST", `/api/v1/organisations/${me.organisation.id}/repair-shops`, { name: $("shop-name").value.trim(), address: $("shop-address").value.trim(), phone: $("shop-phone").value.trim() });
    $("admin-status").textContent = "已添加修理厂。 Shop added.";
    await loadAdmin();
  } catch (err) { $("admin-status").textContent = said(err, "未能添加。 Not added."); }
});
$("back").addEventListener("click", loadQueue);
$("refresh").addEventListener("click", loadQueue);
mountLogin({ open: loadQueue, close: () => { show("queue", false); show("admin", false); }, status, said });
