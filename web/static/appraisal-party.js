// A party's part of an online appraisal (在线鉴定) on their join page: each round with its subject, institution,
// fee and payer, the notice and the opinion; the party agrees or objects (with a reason) while consent is asked,
// evaluates the opinion (1-5 and a comment) and may apply for a new appraisal with reasons. join.js mounts it.
import { ERRORS } from "/static/words.js";
import { linkApi } from "/static/link.js";

export const APPRAISAL_STATES = {
  consenting: "征求当事人意见 Asking the parties",
  chosen: "已确定鉴定机构 Institution chosen",
  appointed: "已委托，鉴定中 Appointed",
  opinion: "已出具鉴定意见 Opinion in",
  superseded: "已准许重新鉴定 Replaced by a new appraisal",
};
export const PAYER_NAMES = { applicant: "申请人 Applicant", respondent: "被申请人 Respondent", insurer: "保险公司 Insurer", shared: "各方分担 Shared" };
export const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) : "—");
export const el = (tag, text, attrs = {}) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};
export const said = (body, fallback) => (body && ERRORS[body.code]) || fallback + (body && body.detail ? `（${body.detail}）` : "");

/** The facts of one round, as a definition list. */
export function appraisalFacts(a) {
  const dl = el("dl", undefined, { class: "facts" });
  const pairs = [
    ["鉴定事项 Subject", `${a.subject_name}${a.description ? "：" + a.description : ""}`],
    ["状态 State", APPRAISAL_STATES[a.state] || a.state],
    ["鉴定机构 Institution", a.institution ? `${a.institution.name}（${a.choice === "drawn" ? "随机抽取 drawn" : "协商选定 agreed"}）` : "—"],
    ["鉴定费用 Fee", a.fee ? `${a.fee} 元，${PAYER_NAMES[a.fee_payer] || a.fee_payer}承担` : "—"],
  ];
  if (a.draw) pairs.push(["抽取记录 Draw", `候选 ${a.draw.candidate_names.join("、")}；种子 ${a.draw.seed}；${when(a.draw.at)}`]);
  for (const [k, v] of pairs) dl.append(el("dt", k), el("dd", v));
  return dl;
}

const call = (method, path, token, body) => linkApi(token)(method, path, body);

async function download(base, token, doc) {
  const res = await fetch(`${base}/documents/${doc.id}`, { headers: { Authorization: "Bearer " + token } });
  if (!res.ok) return;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await res.blob());
  link.download = doc.title + ".pdf";
  link.click();
}

function round(a, me, base, token, refresh) {
  const box = el("article", undefined, { class: "appraisal", "data-id": a.id, "data-state": a.state });
  box.append(el("h3", `第 ${a.round} 次鉴定 Appraisal ${a.round}`), appraisalFacts(a));
  const status = el("p", "", { role: "status" });
  const act = async (path, body, done) => {
    try { await call("POST", `${base}/appraisals/${a.id}/${path}`, token, body); await refresh(done); }
    catch (err) { status.textContent = said(err, "未能提交。 Not sent."); }
  };
  const mine = a.consents.find((x) => x.participant_id === (a.answers_for || me));
  if (a.state === "consenting") {
    const answer = mine && mine.answer;
    box.append(el("p", answer === "agree" ? "您已同意鉴定。 You agreed." : answer === "object" ? `您已提出异议：${mine.reason} You objected.` : "调解员提议进行鉴定，请表明是否同意。 The mediator proposes an appraisal: do you agree?", { class: "appraisal-mine" }));
    const reason = el("textarea", undefined, { maxlength: "500", rows: "2", class: "appraisal-reason" });
    const agree = el("button", "同意鉴定 I agree", { type: "button", class: "primary appraisal-agree" });
    const object = el("button", "提出异议 I object", { type: "button", class: "appraisal-object" });
    agree.addEventListener("click", () => act("consent", { agree: true }, "已同意。 Agreed."));
    object.addEventListener("click", () => act("consent", { agree: false, reason: reason.value }, "已提出异议。 Objection sent."));
    const label = el("label", "异议理由 Reason to object ");
    label.append(reason);
    box.append(agree, label, object);
  }
  for (const [doc, words] of [[a.notice, "鉴定委托通知书 Notice"], [a.opinion, "鉴定意见书 Opinion"]]) {
    if (!doc) continue;
    const b = el("button", `下载${words}`, { type: "button", class: "appraisal-download" });
    b.addEventListener("click", () => download(base, token, doc));
    box.append(b);
  }
  if ((a.state === "opinion" || a.state === "superseded") && !a.evaluated) {
    const form = el("form", undefined, { class: "appraisal-evaluate" });
    const score = el("select", undefined, { class: "appraisal-score" });
    for (const n of [5, 4, 3, 2, 1]) score.append(el("option", `${n} 分`, { value: String(n) }));
    const comment = el("input", undefined, { maxlength: "500", class: "appraisal-comment" });
    const l1 = el("label", "评分 Score "); l1.append(score);
    const l2 = el("label", "评价 Comment "); l2.append(comment);
    form.append(el("h4", "评价鉴定意见 Evaluate the opinion"), l1, l2, el("button", "提交评价 Send", { class: "primary" }));
    form.addEventListener("submit", (e) => { e.preventDefault(); act("evaluations", { score: Number(score.value), comment: comment.value }, "已评价。 Evaluated."); });
    box.append(form);
  } else if (a.evaluated) {
    box.append(el("p", "您已评价该鉴定意见。 You evaluated this opinion.", { class: "done" }));
  }
  const waiting = a.reappraisals.find((r) => !r.decision);
  for (const r of a.reappraisals) {
    const words = r.decision === "granted" ? "已准许重新鉴定 Granted" : r.decision === "refused" ? `不予准许：${r.decision_reasons} Refused` : "重新鉴定申请待调解员决定 Waiting";
    box.append(el("p", words, { class: "appraisal-reappraisal" }));
  }
  if (a.state === "opinion" && !waiting) {
    const form = el("form", undefined, { class: "appraisal-apply" });
    const reasons = el("textarea", undefined, { maxlength: "500", rows: "2", required: "" });
    const l = el("label", "申请重新鉴定的理由 Reasons for a new appraisal "); l.append(reasons);
    form.append(l, el("button", "申请重新鉴定 Apply", {}));
    form.addEventListener("submit", (e) => { e.preventDefault(); act("reappraisal", { reasons: reasons.value }, "已申请重新鉴定。 Applied."); });
    box.append(form);
  }
  box.append(status);
  return box;
}

/** Show the case's appraisals to the party whose link this page opened (join.js calls it once the case is known). */
export async function showAppraisals(caseId, token, me) {
  const base = `/api/v1/cases/${encodeURIComponent(caseId)}`;
  const section = document.getElementById("appraisal-party");
  const refresh = async (message = "") => {
    let view;
    try { view = await call("GET", `${base}/appraisals`, token); } catch { return; }
    if (!view.appraisals.length) { section.hidden = true; return; }
    section.replaceChildren(el("h2", "司法鉴定 Forensic appraisal"), ...view.appraisals.map((a) => round(a, me, base, token, refresh)));
    if (message) section.append(el("p", message, { role: "status", class: "done" }));
    section.hidden = false;
  };
  await refresh();
}
