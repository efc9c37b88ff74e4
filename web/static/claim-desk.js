// The case's claims (一键理赔) on the mediator's console: each party's claim on the insurer, its deadline clock and
// overdue flag (in red), the adjuster acting and each step. Read-only: the claimant starts it, the insurer pays.
// console.js mounts it.
import { claimBody } from "/static/claim-party.js";

/** Show the case's claims (the console calls it when a case opens; hidden while there are none). */
export async function showClaimDesk(c, token) {
  const root = document.getElementById("claim-desk");
  if (!root) return;
  let claims = [];
  try {
    const res = await fetch(`/api/v1/cases/${encodeURIComponent(c.id)}/claims`, { headers: { Authorization: "Bearer " + token } });
    if (res.ok) claims = (await res.json()).claims;
  } catch { /* shown as none */ }
  const list = document.getElementById("claim-desk-list");
  list.replaceChildren();
  for (const claim of claims) {
    const who = document.createElement("h4");
    who.textContent = `${claim.claimant.name} → ${claim.insurer.name}`;
    list.append(who, claimBody(claim));
  }
  root.hidden = !claims.length;
}
