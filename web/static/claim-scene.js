// The driver's one-click claim (快处快赔 → 一键理赔) on the scene page: once both drivers signed the electronic
// accident finding with an agreed amount, the driver who does not pay starts a claim on the paying driver's insurer
// with one button (the amount is the finding's, nothing typed); then each step (已提交, 已受理, 已支付, 已拒赔), the
// payment deadline and an overdue flag, and a choice of the insurer's repair shops (定修直赔). scene.js calls
// mountSceneClaim on every poll of the report once it is signed; the section is made once, below the finding.
import { ERRORS } from "/static/words.js";
import { claimantClaim, claimsTitle } from "/static/claim-party.js";
import { linkApi } from "/static/link.js";

const el = (tag, text, attrs = {}) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};
const said = (body, fallback) => (body && ERRORS[body.code]) || fallback + (body && body.detail ? `（${body.detail}）` : "");

let busy = false;
let shown = "";
const note = el("p", "", { id: "claim-status", role: "status" });

/** Show (or refresh) the claim section for the driver of ``token`` on report ``reportId`` (``report``: as read). */
export async function mountSceneClaim(reportId, token, report) {
  if (busy) return;
  let root = document.getElementById("claim-scene");
  if (!root) {
    root = el("section", undefined, { id: "claim-scene", "aria-live": "polite" });
    const finding = document.getElementById("finding");
    if (!finding) return;
    finding.after(root);
  }
  const base = `/api/v1/scene-reports/${encodeURIComponent(reportId)}/claims`;
  const call = linkApi(token);
  const f = report.finding;
  const entitled = report.state === "signed" && f && f.agreed_amount && f.payer && f.payer !== report.driver;
  busy = true;
  let claims;
  try { claims = (await call("GET", base)).claims; } catch { busy = false; return; } finally { busy = false; }
  if (!claims.length && !entitled) { root.hidden = true; return; }
  const key = JSON.stringify([claims, entitled]);
  if (key === shown) return;  // nothing changed since the last poll: leave the section (and a chosen option) alone
  shown = key;
  const title = claimsTitle();
  const say = (t) => { note.textContent = t || ""; };
  const again = async () => { shown = ""; await mountSceneClaim(reportId, token, report); };
  root.replaceChildren(title);
  for (const c of claims) {
    const choose = (shop) => call("POST", `${base}/${c.id}/repair-shop`, { repair_shop_id: shop });
    root.append(claimantClaim(c, choose, say, again));
  }
  if (entitled && !claims.some((c) => c.state !== "refused")) {
    const start = el("button", "一键理赔 Claim from the other driver's insurer", { type: "button", id: "scene-claim-start", class: "big primary" });
    start.addEventListener("click", async () => {
      start.disabled = true;
      try { await call("POST", base); say("已提交理赔，金额按事故认定书约定。 Claim submitted with the finding's amount."); await again(); }
      catch (err) { start.disabled = false; say(said(err, "未能提交理赔。 The claim was not submitted.")); }
    });
    root.append(el("p", `事故认定书已双方签字，约定赔偿 ${f.agreed_amount} 元，由对方保险公司支付，无需再次填写。 The finding is signed: the claim takes its agreed amount.`), start);
  }
  root.append(note);
  root.hidden = false;
}
