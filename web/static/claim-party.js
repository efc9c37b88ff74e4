// A party's one-click claim (一键理赔) on their join page: once the agreement is signed, one button starts the claim
// on the case's insurer (the amounts are the agreement's, nothing typed); then each step (已提交, 已受理, 已支付,
// 已拒赔), the payment deadline and an overdue flag, and, for vehicle damage, a choice of the insurer's repair shops
// (定修直赔). The insurer participant sees the case's claims and the adjuster who acts, with their limits.
// join.js mounts it.
import { ERRORS } from "/static/words.js";
import { linkApi } from "/static/link.js";

export const CLAIM_STATES = {
  submitted: "已提交 Submitted",
  accepted: "已受理 Accepted",
  paid: "已支付 Paid",
  refused: "已拒赔 Refused",
};
export const CLAIM_STEPS = {
  submitted: "提交理赔 Claimed",
  accepted: "保险公司受理 Accepted",
  shop_chosen: "选定修理厂 Repair shop chosen",
  paid: "支付 Paid",
  refused: "拒赔 Refused",
  overdue: "超期未付 Overdue",
};
export const SETTLED = ["signed", "serving", "served", "confirmation_applied", "confirmed"];
export const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) : "—");

const el = (tag, text, attrs = {}) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};
const said = (body, fallback) => (body && ERRORS[body.code]) || fallback + (body && body.detail ? `（${body.detail}）` : "");

/** The deadline clock of a claim: working days left, or overdue (in red). */
export function clock(c) {
  if (c.state === "paid") return el("span", `已于 ${when(c.paid_at)} 付清 Paid in full`);
  if (c.state === "refused") return el("span", "—");
  if (c.overdue || (c.working_days_left !== null && c.working_days_left < 0)) {
    return el("strong", `已超期（应于 ${c.due_on} 前支付） Overdue`, { class: "overdue-flag" });
  }
  return el("span", `剩余 ${c.working_days_left} 个工作日（${c.due_on} 前） ${c.working_days_left} working days left`);
}

/** A claim's facts, steps and payments, as every reader sees them. */
export function claimBody(c) {
  const box = el("div", undefined, { class: "claim", "data-claim": c.id });
  const dl = el("dl", undefined, { class: "facts" });
  const pair = (k, v) => { dl.append(el("dt", k)); const dd = el("dd"); if (v instanceof Node) dd.append(v); else dd.textContent = v; dl.append(dd); };
  pair("状态 State", el("strong", CLAIM_STATES[c.state] || c.state, { class: "claim-state" }));
  pair("保险公司 Insurer", c.insurer.name);
  pair("理赔金额 Amount", `${c.amount} 元`);
  pair("已付 Paid", `${c.paid} 元`);
  pair("付款期限 Deadline", clock(c));
  for (const line of c.lines) {
    if (c.scene_report) pair("事故认定书约定 Agreed at the scene", `${c.scene_report.number}：${line.payer} → ${line.amount} 元（${line.method}）`);
    else pair("协议约定 Agreed", `${line.payer} → ${line.amount} 元（${line.due} 前，${line.method}）`);
  }
  if (c.vehicle_damage !== "0.00") pair("车辆损失 Vehicle damage", `${c.vehicle_damage} 元`);
  if (c.repair_shop) pair("修理厂 Repair shop", `${c.repair_shop.name}（${c.repair_shop.address}，${c.repair_shop.phone}）`);
  if (c.acting) {
    const scope = c.acting.any_region ? "全国 Any region" : c.acting.regions.join("、");
    pair("经办人 Adjuster", `${c.acting.adjuster}（授权限额 ${c.acting.limit} 元，${scope}，至 ${c.acting.valid_to}）`);
  }
  if (c.refused_reason) pair("拒赔理由 Reasons", c.refused_reason);
  box.append(dl);
  if (c.events.length) {
    const ol = el("ol", undefined, { class: "claim-steps" });
    for (const e of c.events) ol.append(el("li", `${when(e.at)} ${CLAIM_STEPS[e.action] || e.action}${e.details && e.details.amount && e.action === "paid" ? "：" + e.details.amount + " 元" : ""}`));
    box.append(el("h4", "办理经过 Steps"), ol);
  }
  return box;
}

/** The heading of a claimant's claims section. */
export function claimsTitle() {
  const title = el("h2", "一键理赔 ");
  title.append(el("small", "One-click claim", { class: "en" }));
  return title;
}

/** A claim as its claimant sees it: claimBody, and while the insurer's repair shops are open to choose (定修直赔),
 *  the choice; ``choose(shopId)`` saves it, ``say`` tells how it went, ``reload`` shows the claims again. */
export function claimantClaim(c, choose, say, reload) {
  const box = claimBody(c);
  if (c.repair_shops.length && !c.repair_shop) {
    const form = el("form", undefined, { class: "claim-shop" });
    const sel = el("select", undefined, { id: `shop-${c.id}` });
    for (const s of c.repair_shops) sel.append(el("option", `${s.name}（${s.address}）`, { value: s.id }));
    const label = el("label", "定修直赔：选择修理厂 Choose a repair shop (the insurer pays it) ");
    label.append(sel);
    form.append(label, el("button", "选定 Choose", { type: "submit" }));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try { await choose(sel.value); say("已选定修理厂。 Shop chosen."); await reload(); }
      catch (err) { say(said(err, "未能保存。 Not saved.")); }
    });
    box.append(form);
  }
  return box;
}

/** Show the claims section to the party whose link opened the join page. */
export async function showClaims(caseId, token, caseState) {
  const root = document.getElementById("claim-party");
  if (!root) return;
  const base = `/api/v1/cases/${encodeURIComponent(caseId)}/claims`;
  const call = linkApi(token);
  let claims;
  try { claims = (await call("GET", base)).claims; } catch { root.hidden = true; return; }
  const settled = SETTLED.includes(caseState);
  if (!claims.length && !settled) { root.hidden = true; return; }
  const title = claimsTitle();
  const note = el("p", "", { id: "claim-status", role: "status" });
  root.replaceChildren(title);
  const say = (t) => { note.textContent = t || ""; };
  const render = (list) => {
    root.replaceChildren(title);
    for (const c of list) {
      const choose = (shop) => call("POST", `/api/v1/claims/${c.id}/repair-shop`, { repair_shop_id: shop });
      root.append(claimantClaim(c, choose, say, reload));
    }
    const open = list.some((c) => c.state !== "refused");
    if (settled && !open) {
      const start = el("button", "一键理赔 Claim from the insurer", { type: "button", id: "claim-start", class: "primary" });
      start.addEventListener("click", async () => {
        start.disabled = true;
        try { await call("POST", base); say("已提交理赔，金额按调解协议。 Claim submitted with the agreement's amounts."); await reload(); }
        catch (err) { start.disabled = false; say(said(err, "未能提交理赔。 The claim was not submitted.")); }
      });
      root.append(el("p", "调解协议已签署：理赔金额按协议约定，无需再次填写。 The agreement is signed: the claim takes its amounts."), start);
    }
    root.append(note);
  };
  const reload = async () => { render((await call("GET", base)).claims); };
  render(claims);
  root.hidden = false;
}
