// The mediator's part of an online appraisal (在线鉴定) on /console: start one (the subject, what exactly, which
// party asked), follow each party's consent, record the institution they agreed on or draw one from the roster,
// record the fee and its payer (the sealed notice is served on the parties), send the materials, read the opinion
// and what its signature check found, evaluate it, and grant or refuse an application for a new appraisal.
// console.js mounts it whenever it opens a case's progress.
import { APPRAISAL_STATES, PAYER_NAMES, appraisalFacts, el, said } from "/static/appraisal-party.js";

let current = null;

async function call(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { Authorization: "Bearer " + current.token, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw data;
  return data;
}

const note = (text) => { document.getElementById("appraisal-desk-status").textContent = text || ""; };
function labelled(text, control) { const l = el("label", text + " "); l.append(control); return l; }
function select(options, cls) {
  const s = el("select", undefined, { class: cls });
  for (const [v, t] of options) s.append(el("option", t, { value: v }));
  return s;
}

async function act(method, path, body, done) {
  try { await call(method, `${current.base}/appraisals${path}`, body); await render(done); }
  catch (err) { note(said(err, "未能完成。 Not done.")); }
}

async function round(a, roster) {
  const box = el("article", undefined, { class: "appraisal", "data-id": a.id, "data-state": a.state });
  box.append(el("h4", `第 ${a.round} 次鉴定 Appraisal ${a.round}：${APPRAISAL_STATES[a.state] || a.state}`), appraisalFacts(a));
  const consents = el("ul", undefined, { class: "appraisal-consents" });
  for (const x of a.consents) {
    const words = x.answer === "agree" ? "同意 agrees" : x.answer === "object" ? `异议 objects：${x.reason}` : "未表态 not answered";
    consents.append(el("li", `${x.role_name} ${x.name}：${words}`, { "data-answer": x.answer || "none" }));
  }
  box.append(consents);
  const one = `/${a.id}`;
  if (a.state === "consenting") {
    const options = roster.filter((i) => i.specialties.includes(a.subject)).map((i) => [i.id, i.name]);
    const pick = select(options, "appraisal-institution");
    const agreed = el("button", "记录协商选定的机构 Record the agreed institution", { type: "button", class: "appraisal-choose" });
    agreed.addEventListener("click", () => act("POST", `${one}/institution`, { organisation_id: pick.value }, "已记录鉴定机构。 Recorded."));
    const draw = el("button", "从名册随机抽取 Draw at random", { type: "button", class: "primary appraisal-draw" });
    draw.addEventListener("click", () => act("POST", `${one}/draw`, undefined, "已随机抽取鉴定机构。 Drawn."));
    box.append(labelled("鉴定机构 Institution", pick), agreed, draw);
  }
  if (a.state === "chosen") {
    const fee = el("input", undefined, { inputmode: "decimal", maxlength: "10", class: "appraisal-fee" });
    const payer = select(Object.entries(PAYER_NAMES), "appraisal-payer");
    const go = el("button", "委托并送达通知书 Appoint; serve the notice", { type: "button", class: "primary appraisal-appoint" });
    go.addEventListener("click", () => act("POST", `${one}/appointment`, { fee: fee.value.trim(), payer: payer.value }, "已委托，通知书已送达。 Appointed; notice served."));
    box.append(labelled("鉴定费用（元） Fee (yuan)", fee), labelled("承担方 Paid by", payer), go);
  }
  if (a.state === "appointed") {
    const sent = new Set(a.materials.map((d) => d.id));
    const list = el("ul", undefined, { class: "appraisal-materials" });
    for (const d of current.documents) {
      const box2 = el("input", undefined, { type: "checkbox", value: d.id });
      box2.checked = sent.has(d.id);
      const l = el("label", ""); l.append(box2, ` ${d.title}`);
      const li = el("li"); li.append(l); list.append(li);
    }
    const send = el("button", "送交鉴定材料 Send the materials", { type: "button", class: "appraisal-send" });
    send.addEventListener("click", () => {
      const ids = [...list.querySelectorAll("input:checked")].map((i) => i.value);
      act("PUT", `${one}/materials`, { document_ids: ids }, `已送交 ${ids.length} 份材料。 Sent.`);
    });
    box.append(el("h5", "鉴定材料 Materials"), list, send);
  }
  if (a.opinion_check) {
    const check = a.opinion_check;
    const signers = check.signatures.map((s) => `${s.signer || "?"}${s.intact && s.valid && s.chain_ok ? "（有效 valid）" : "（无效 invalid）"}`);
    box.append(el("p", `签名核验 Signatures：${signers.join("、")}`, { class: "appraisal-check" }));
  }
  if ((a.state === "opinion" || a.state === "superseded") && !a.evaluated) {
    const score = select([5, 4, 3, 2, 1].map((n) => [String(n), `${n} 分`]), "appraisal-score");
    const comment = el("input", undefined, { maxlength: "500", class: "appraisal-comment" });
    const go = el("button", "提交评价 Evaluate", { type: "button", class: "appraisal-evaluate" });
    go.addEventListener("click", () => act("POST", `${one}/evaluations`, { score: Number(score.value), comment: comment.value }, "已评价。 Evaluated."));
    box.append(el("h5", "评价鉴定意见 Evaluate the opinion"), labelled("评分 Score", score), labelled("评价 Comment", comment), go);
  }
  for (const e of a.evaluations) box.append(el("p", `评价 ${e.evaluator_role_name}：${e.score} 分 ${e.comment}`, { class: "appraisal-evaluation" }));
  const waiting = a.reappraisals.find((r) => !r.decision);
  for (const r of a.reappraisals) {
    box.append(el("p", `重新鉴定申请：${r.reasons}${r.decision ? (r.decision === "granted" ? " — 已准许" : ` — 不予准许：${r.decision_reasons}`) : " — 待决定"}`, { class: "appraisal-reappraisal" }));
  }
  if (a.state === "opinion" && waiting) {
    const reasons = el("input", undefined, { maxlength: "500", class: "appraisal-decision-reasons" });
    const grant = el("button", "准许重新鉴定 Grant", { type: "button", class: "appraisal-grant" });
    const refuse = el("button", "不予准许 Refuse", { type: "button", class: "appraisal-refuse" });
    grant.addEventListener("click", () => act("POST", `${one}/reappraisal/decision`, { grant: true, reasons: reasons.value }, "已准许，新一轮鉴定开始。 Granted."));
    refuse.addEventListener("click", () => act("POST", `${one}/reappraisal/decision`, { grant: false, reasons: reasons.value }, "已决定不予准许。 Refused."));
    box.append(labelled("理由 Reasons", reasons), grant, refuse);
  }
  return box;
}

async function render(message = "") {
  const view = await call("GET", `${current.base}/appraisals`);
  const roster = await call("GET", "/api/v1/appraisal/institutions").then((r) => r.institutions).catch(() => []);
  const rounds = [];
  for (const a of view.appraisals) rounds.push(await round(a, roster));
  document.getElementById("appraisal-rounds").replaceChildren(...rounds);
  note(message);
}

/** Show the part for one case (c: the case as GET /cases/{id} answers it). */
export async function showAppraisalDesk(c, token) {
  const section = document.getElementById("appraisal-desk");
  current = { base: `/api/v1/cases/${encodeURIComponent(c.id)}`, token, documents: c.documents || [] };
  const parties = (c.participants || []).filter((p) => ["applicant", "respondent", "insurer", "agent"].includes(p.role));
  const asked = document.getElementById("appraisal-requested-by");
  asked.replaceChildren(el("option", "调解员依职权 The mediator", { value: "" }), ...parties.map((p) => el("option", p.display_name, { value: p.id })));
  try { await render(); } catch { section.hidden = true; return; }
  section.hidden = false;
}

document.getElementById("appraisal-start").addEventListener("submit", (e) => {
  e.preventDefault();
  const requested = document.getElementById("appraisal-requested-by").value;
  const body = { subject: document.getElementById("appraisal-subject").value, description: document.getElementById("appraisal-description").value };
  if (requested) body.requested_by = requested;
  act("POST", "", body, "已发起鉴定，待各方当事人表态。 Started: the parties answer.");
});
