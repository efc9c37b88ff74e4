// A party's part of the relief fund (救助基金垫付) on their join page: their applications with each step
// (已提交, 需补充材料, 已核准, 已垫付, 不予垫付) and, for the applicant side, a form to apply (the fund, the ground,
// the kind of advance, the amount, the payee, evidence photographed or chosen on the phone). join.js mounts it.
import { ERRORS } from "/static/words.js";

export const RELIEF_STATES = {
  submitted: "已提交，待审核 Submitted",
  more_requested: "需补充材料 More material needed",
  approved: "已核准，待支付 Approved",
  paid: "已垫付 Advanced",
  refused: "不予垫付 Refused",
};
export const RELIEF_STEPS = {
  submitted: "提交申请 Applied",
  more_requested: "要求补充材料 More asked",
  resubmitted: "已补充材料 Material added",
  approved: "核准 Approved",
  paid: "已垫付 Paid",
  refused: "不予垫付 Refused",
  liable_named: "确定责任人 Liable party named",
  recovered: "追回款项 Sum recovered",
  written_off: "核销 Written off",
};
export const GROUNDS = { fled: "肇事逃逸 The driver fled", uninsured: "未投保交强险 Uninsured", over_limit: "抢救费用超过交强险责任限额 Over the limit" };
export const KINDS = { rescue: "抢救费 Rescue costs", funeral: "丧葬费 Funeral costs", other: "其他 Other" };
export const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) : "—");

const el = (tag, text, attrs = {}) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};
const said = (body, fallback) => (body && ERRORS[body.code]) || fallback + (body && body.detail ? `（${body.detail}）` : "");

function labelled(text, control) { const l = el("label", text + " "); l.append(control); return l; }
function select(options) {
  const s = el("select");
  for (const [v, t] of Object.entries(options)) s.append(el("option", t, { value: v }));
  return s;
}

/** Show the relief section to the party whose link opened the join page (join.js calls it once the case is known). */
export async function showRelief(caseId, token) {
  const root = document.getElementById("relief-party");
  if (!root) return;
  const base = `/api/v1/cases/${encodeURIComponent(caseId)}/relief`;
  const auth = { Authorization: "Bearer " + token };
  const call = async (method, path, body) => {
    const res = await fetch(path, { method, headers: { ...auth, ...(body ? { "Content-Type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw data;
    return data;
  };
  let data;
  try { data = await call("GET", base); } catch { root.hidden = true; return; }
  root.replaceChildren(el("h2", "救助基金垫付 "), el("p", "", { id: "relief-status", role: "status" }));
  root.firstChild.append(el("small", "Relief fund advance"));
  const say = (t) => { document.getElementById("relief-status").textContent = t || ""; };
  const upload = async (file) => {
    const q = new URLSearchParams({ kind: file.type === "application/pdf" ? "evidence" : "photo", title: file.name.slice(0, 200) || "证据" });
    const res = await fetch(`${base}/evidence?${q}`, { method: "POST", headers: { ...auth, "Content-Type": file.type || "application/octet-stream" }, body: file });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw body;
    return body.id;
  };

  for (const a of data.applications) {
    const box = el("article", undefined, { class: "notice relief-application", "data-id": a.id });
    box.append(el("h3", `${a.advance_name} · ${a.ground_name} · ${a.asked} 元`));
    box.append(el("p", RELIEF_STATES[a.state] || a.state, { class: "relief-state" }));
    box.append(el("p", `救助基金 Fund：${a.fund_name}`));
    if (a.approved) box.append(el("p", `核准金额 Approved：${a.approved} 元`));
    if (a.paid_on) box.append(el("p", `支付日期 Paid on：${a.paid_on}`));
    if (a.note) box.append(el("p", `基金说明 Fund's note：${a.note}`, { class: "warn" }));
    const steps = el("ol");
    for (const s of a.steps) steps.append(el("li", `${when(s.at)} ${RELIEF_STEPS[s.action] || s.action}`));
    box.append(steps);
    if (a.state === "more_requested") {
      const form = el("form", undefined, { class: "relief-resubmit" });
      const note = el("textarea", undefined, { maxlength: "1000", rows: "2" });
      const files = el("input", undefined, { type: "file", accept: "image/jpeg,image/png,application/pdf", multiple: "" });
      form.append(labelled("补充说明 Note", note), labelled("补充材料 More evidence", files), el("button", "提交补充材料 Send", { class: "primary" }));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        try {
          const ids = [];
          for (const f of files.files) ids.push(await upload(f));
          await call("POST", `${base}/${a.id}/resubmit`, { note: note.value, documents: ids });
          say("已提交补充材料。 Sent.");
          showRelief(caseId, token);
        } catch (err) { say(said(err, "未能提交。 Not sent.")); }
      });
      box.append(form);
    }
    root.append(box);
  }

  if (data.applicants.length && data.funds.length) {
    const form = el("form", undefined, { id: "relief-apply" });
    const fund = el("select", undefined, { id: "relief-fund" });
    for (const f of data.funds) fund.append(el("option", `${f.name}（${f.region}）`, { value: f.id }));
    const ground = select(GROUNDS); ground.id = "relief-ground";
    const kind = select(KINDS); kind.id = "relief-kind";
    const amount = el("input", undefined, { id: "relief-amount", inputmode: "decimal", maxlength: "19", required: "", pattern: "[0-9]{1,16}(\\.[0-9]{1,2})?" });
    const payee = el("input", undefined, { id: "relief-payee", maxlength: "1000", required: "" });
    const description = el("textarea", undefined, { id: "relief-description", maxlength: "1000", rows: "2" });
    const files = el("input", undefined, { id: "relief-files", type: "file", accept: "image/jpeg,image/png,application/pdf", multiple: "" });
    form.append(
      el("h3", "申请垫付 Apply for an advance"),
      labelled("救助基金 Fund", fund), labelled("事由 Ground", ground), labelled("垫付项目 Kind", kind),
      labelled("申请金额（元） Amount (yuan)", amount), labelled("收款医院或收款人 Payee", payee),
      labelled("情况说明 What happened", description), labelled("证据材料 Evidence", files),
      el("button", "提交申请 Apply", { class: "primary", id: "relief-submit" }),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const button = document.getElementById("relief-submit");
      button.disabled = true;
      try {
        const ids = [];
        for (const f of files.files) ids.push(await upload(f));
        await call("POST", base, { fund_id: fund.value, ground: ground.value, advance_kind: kind.value, amount: amount.value.trim(), payee: payee.value, description: description.value, documents: ids });
        await showRelief(caseId, token);
        say("申请已提交。 Application sent.");
      } catch (err) { say(said(err, "未能提交申请。 Not sent.")); button.disabled = false; }
    });
    root.append(form);
  }
  root.hidden = !(data.applications.length || data.applicants.length);
}
