// The mediator's view of the relief fund (救助基金垫付) in the console's case progress: each application of the
// case with its state and steps as the fund decides (补充材料, 核准, 已垫付, 不予垫付) and its recovery; and a form
// to apply on an applicant's behalf, attaching documents of the case as evidence.
import { ERRORS } from "/static/words.js";
import { GROUNDS, KINDS, RELIEF_STATES, RELIEF_STEPS, when } from "/static/relief-party.js";

const $ = (id) => document.getElementById(id);
const el = (tag, text, attrs = {}) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};
function options(select, pairs) { select.replaceChildren(...pairs.map(([v, t]) => el("option", t, { value: v }))); }

/** Show the case's relief applications to its mediator (console.js calls it when the case's progress opens). */
export async function showReliefDesk(c, token) {
  const section = $("relief-desk");
  if (!section) return;
  const base = `/api/v1/cases/${encodeURIComponent(c.id)}/relief`;
  const call = async (method, body) => {
    const res = await fetch(base, { method, headers: { Authorization: "Bearer " + token, ...(body ? { "Content-Type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw data;
    return data;
  };
  const say = (t) => { $("relief-desk-status").textContent = t || ""; };
  let data;
  try { data = await call("GET"); } catch { section.hidden = true; return; }
  const list = $("relief-desk-list");
  list.replaceChildren();
  for (const a of data.applications) {
    const li = el("li", `${a.party_name} · ${a.advance_name} · ${a.ground_name} · ${a.asked} 元 · ${a.fund_name}：`, { "data-id": a.id, "data-state": a.state });
    li.append(el("strong", RELIEF_STATES[a.state] || a.state));
    if (a.note) li.append(el("p", `基金说明 Fund's note：${a.note}`));
    if (a.recovery) li.append(el("p", `追偿 Recovery：${a.recovery.status_name}，已追回 ${a.recovery.recovered} 元，待追偿 ${a.recovery.outstanding} 元`));
    const steps = el("ol");
    for (const s of a.steps) steps.append(el("li", `${when(s.at)} ${RELIEF_STEPS[s.action] || s.action}`));
    li.append(steps);
    list.append(li);
  }
  $("relief-desk-empty").hidden = data.applications.length > 0;
  const form = $("relief-desk-form");
  form.hidden = !(data.applicants.length && data.funds.length);
  options($("relief-desk-party"), data.applicants.map((p) => [p.participant_id, p.name]));
  options($("relief-desk-fund"), data.funds.map((f) => [f.id, `${f.name}（${f.region}）`]));
  options($("relief-desk-ground"), Object.entries(GROUNDS));
  options($("relief-desk-kind"), Object.entries(KINDS));
  const docs = $("relief-desk-docs");
  docs.replaceChildren();
  for (const d of c.documents || []) {
    const label = el("label", ` ${d.title}`);
    label.prepend(el("input", undefined, { type: "checkbox", value: d.id }));
    docs.append(label);
  }
  form.onsubmit = async (e) => {
    e.preventDefault();
    const ids = [...docs.querySelectorAll("input:checked")].map((x) => x.value);
    try {
      await call("POST", {
        participant_id: $("relief-desk-party").value, fund_id: $("relief-desk-fund").value, ground: $("relief-desk-ground").value,
        advance_kind: $("relief-desk-kind").value, amount: $("relief-desk-amount").value.trim(), payee: $("relief-desk-payee").value,
        description: $("relief-desk-description").value, documents: ids,
      });
      await showReliefDesk(c, token);
      say("已代为提交申请。 Application sent.");
    } catch (err) { say((err && ERRORS[err.code]) || "未能提交申请。 Not sent." + (err && err.detail ? `（${err.detail}）` : "")); }
  };
  section.hidden = false;
}
