// The mediator's desk for the agreement (/agreement?case=…, opened from the console with this
// tab's login): the compensation calculator (items, liable parties with their compulsory and
// commercial insurers, the victim's own share) shows the server's split as the agreement prints
// it; "用此结果起草协议" turns that split into a draft (payments, payee, date, other terms); the
// versions list shows each draft's PDF and the parties' comments, and a redraft makes the next
// version. Nothing is calculated here: the server's calculateCompensation is the only arithmetic,
// and the API's refusals are shown in Chinese next to the field they concern.
import { ERRORS, stateName } from "/static/words.js";

const $ = (id) => document.getElementById(id);
const show = (id, on = true) => { $(id).hidden = !on; };
const status = (text) => { $("status").textContent = text; };
const caseId = new URLSearchParams(window.location.search).get("case") || "";
const base = `/api/v1/cases/${encodeURIComponent(caseId)}`;
// the console's login in this tab (a party's link, kept by the join page, is refused below)
const token = sessionStorage.getItem("mediation-token") || sessionStorage.getItem("mediation-link");

// the heads of compensation (server/domain/compensation.py ItemKind: code and Chinese name)
const KINDS = [
  ["medical", "医疗费"], ["lost_income", "误工费"], ["nursing", "护理费"], ["transport", "交通费"],
  ["accommodation", "住宿费"], ["hospital_food", "住院伙食补助费"], ["nutrition", "营养费"],
  ["disability", "残疾赔偿金"], ["disability_aids", "残疾辅助器具费"], ["dependants", "被扶养人生活费"],
  ["death", "死亡赔偿金"], ["funeral", "丧葬费"], ["emotional_distress", "精神损害抚慰金"],
  ["property", "财产损失"], ["appraisal", "鉴定费"], ["other", "其他"],
];
// the compulsory-insurance category each item is paid under (compensation.py Category)
const CATEGORIES = { death_disability: "死亡伤残", medical: "医疗费用", property: "财产损失", outside: "交强险外" };

let people = [];          // the case's participants
let lastClaim = null;     // the claim behind the result on screen (what a draft takes)
let lastSplit = null;     // the server's split of it
let drafts = [];

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { ...(body ? { "Content-Type": "application/json" } : {}), Authorization: "Bearer " + token },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw { status: res.status, ...data };
  return data;
}

// ------------------------------------------------------------------ small helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (v !== false && v !== null && v !== undefined) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** "12345.67" → "12,345.67": money as the agreement writes it (text only, never a float). */
export function yuan(plain) {
  const [whole, fen = "00"] = String(plain).split(".");
  return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + "." + fen.padEnd(2, "0");
}

/** Money as whole fen from "12345.67" (exact: the server's figures have two decimals). */
const fen = (plain) => { const [w, f = ""] = String(plain).split("."); return Number(w) * 100 + Number((f + "00").slice(0, 2)); };
const plainOf = (n) => `${Math.floor(n / 100)}.${String(n % 100).padStart(2, "0")}`;
const beijing = (iso) => new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });

function deny(text) {
  $("denied-text").textContent = text;
  show("denied");
  for (const id of ["calculator", "editor", "versions"]) show(id, false);
}

/** A problem's code as this page says it: Chinese, never the server's English detail. */
function problemText(err, fallback = "出现问题，请重试。Something went wrong; try again.") {
  const code = err && err.code;
  if (code === "illegal_transition") return "当前阶段不能起草协议（例如签署已开始）。 No draft can be made at this stage.";
  if (code === "unauthenticated" || code === "token_expired" || code === "token_revoked") {
    return "登录已失效，请回到调解员工作台重新登录。 Log in again on the console.";
  }
  return ERRORS[code] || fallback;
}

// ------------------------------------------------------------------ errors next to the fields

function clearErrors(form) {
  for (const e of form.querySelectorAll(".field-error")) { e.hidden = true; e.textContent = ""; }
  for (const e of form.querySelectorAll(".field-error.inline")) e.remove();
  for (const e of form.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
}

/** Show ``text`` next to ``target``: an input (a message right after it) or a message paragraph. */
function fieldError(target, text) {
  if (target.classList.contains("field-error")) { target.textContent = text; target.hidden = false; return; }
  target.setAttribute("aria-invalid", "true");
  const note = el("span", { class: "field-error inline", role: "alert", text });
  (target.closest("label") || target).after(note);
  target.focus();
}

const AMOUNT_PROBLEMS = [
  [/decimal places/, "金额最多两位小数（到分）。"],
  [/must not be negative/, "金额不能为负数。"],
  [/more than [\d,]+ yuan/, "金额超出上限（10 亿元）。"],
  [/.*/, "请填写金额，如 12345.67。"],
];
const PERCENT_PROBLEMS = [
  [/between 0 and 100/, "比例须在 0 到 100 之间。"],
  [/.*/, "请填写比例，如 70 或 33.33（最多六位小数）。"],
];
const TEXT_PROBLEMS = [
  [/is longer than (\d+)/, (m) => `不能超过 ${m[1]} 个字。`],
  [/.*/, "请填写此项。"],
];
function pick(table, text) {
  for (const [re, say] of table) { const m = re.exec(text); if (m) return typeof say === "function" ? say(m) : say; }
  return "";
}

const itemRows = () => [...$("items").querySelectorAll(".item-row")];
const vehicleRows = () => [...$("vehicles").querySelectorAll(".vehicle-row")];
const obligationRows = () => [...$("obligations").querySelectorAll(".obligation-row")];
const AMOUNT = /^\s*(?:\d{1,3}(?:,\d{3}){1,5}|\d{1,16})(?:\.\d{1,2})?\s*$/;

/** The first row's field that ``bad`` picks out, else the first row's. */
function firstOf(rows, selector, bad = () => false) {
  const fields = rows.map((r) => r.querySelector(selector)).filter(Boolean);
  return fields.find(bad) || fields[0];
}
const byParty = (name) => vehicleRows().find((r) => r.querySelector(".v-party").value.trim() === name);
const byNumber = (n) => vehicleRows()[Number(n) - 1];

// The calculator's and the draft's refusals (server/agreement/terms.py, server/domain/compensation.py),
// each to its field with a Chinese message.
const CLAIM_RULES = [
  [/^item (.+?): (.*)$/, (m) => [firstOf(itemRows().filter((r) => r.querySelector(".i-kind").value === m[1]), ".i-amount", (f) => !AMOUNT.test(f.value)), pick(AMOUNT_PROBLEMS, m[2])]],
  [/^an item's note (.*)$/, (m) => [firstOf(itemRows(), ".i-note", (f) => f.value.trim().length > 200), pick(TEXT_PROBLEMS, m[1])]],
  [/^(an item's kind|Unknown compensation item kind)/, () => [$("items-error"), "请选择赔偿项目。"]],
  [/^The claim has no items/, () => [$("items-error"), "请至少填写一项赔偿项目。"]],
  [/^claim\.items has more than (\d+)/, (m) => [$("items-error"), `赔偿项目最多 ${m[1]} 项。`]],
  [/^The claim names no vehicle/, () => [$("vehicles-error"), "请至少填写一个责任方。"]],
  [/^claim\.vehicles has more than (\d+)/, (m) => [$("vehicles-error"), `责任方最多 ${m[1]} 个。`]],
  [/^a vehicle's party (.*)$/, (m) => [firstOf(vehicleRows(), ".v-party", (f) => !f.value.trim() || f.value.trim().length > 100), pick(TEXT_PROBLEMS, m[1]).replace("此项", "责任方名称")]],
  [/^Vehicle (\d+) has no party id/, (m) => [byNumber(m[1])?.querySelector(".v-party"), "请填写责任方名称。"]],
  [/^Vehicle (\d+): two vehicles have the same party id/, (m) => [byNumber(m[1])?.querySelector(".v-party"), "责任方名称重复，请加以区分。"]],
  [/^Vehicle (\d+): liability share: (.*)$/, (m) => [byNumber(m[1])?.querySelector(".v-share"), pick(PERCENT_PROBLEMS, m[2])]],
  [/^Vehicle (\d+): commercial deductible: (.*)$/, (m) => [byNumber(m[1])?.querySelector(".v-deductible"), pick(PERCENT_PROBLEMS, m[2])]],
  [/^Vehicle (\d+): commercial limit: (.*)$/, (m) => [byNumber(m[1])?.querySelector(".v-limit"), pick(AMOUNT_PROBLEMS, m[2])]],
  [/^(.+)'s liability share: (.*)$/, (m) => [byParty(m[1])?.querySelector(".v-share"), pick(PERCENT_PROBLEMS, m[2])]],
  [/^(.+)'s deductible: (.*)$/, (m) => [byParty(m[1])?.querySelector(".v-deductible"), pick(PERCENT_PROBLEMS, m[2])]],
  [/^(.+)'s commercial limit: (.*)$/, (m) => [byParty(m[1])?.querySelector(".v-limit"), pick(AMOUNT_PROBLEMS, m[2])]],
  [/^(.+)'s (compulsory|commercial) insurer (.*)$/, (m) => [byParty(m[1])?.querySelector(m[2] === "compulsory" ? ".v-compulsory" : ".v-commercial"), pick(TEXT_PROBLEMS, m[3]).replace("此项", "保险公司名称")]],
  [/^(.+): driver_at_fault/, (m) => [byParty(m[1])?.querySelector(".v-fault"), "请选择驾驶人是否有责。"]],
  [/^[Tt]he victim's share: (.*)$/, (m) => [$("victim-share"), pick(PERCENT_PROBLEMS, m[1])]],
  [/^Liability shares must add up to 100%.* add up to (\S+)$/, (m) => [$("shares-error"), `各责任方比例与受害人自负比例合计须为 100%，现为 ${m[1]}。`]],
];
const DRAFT_RULES = [
  [/^facts (.*)$/, (m) => [$("facts"), pick(TEXT_PROBLEMS, m[1])]],
  [/^An obligation's due date/, () => [firstOf(obligationRows(), ".o-due", (f) => !/^\d{4}-\d{2}-\d{2}$/.test(f.value)), "请选择付款日期。"]],
  [/^an obligation's (payer|payee|method|due date) (.*)$/, (m) => [firstOf(obligationRows(), { payer: ".o-payer", payee: ".o-payee", method: ".o-method", "due date": ".o-due" }[m[1]], (f) => !f.value.trim() || f.value.trim().length > 100), pick(TEXT_PROBLEMS, m[2])]],
  [/^an obligation's amount: (.*)$/, (m) => [firstOf(obligationRows(), ".o-amount", (f) => !AMOUNT.test(f.value)), pick(AMOUNT_PROBLEMS, m[1])]],
  [/^obligations has more than (\d+)/, (m) => [$("obligations-error"), `付款最多 ${m[1]} 条。`]],
  [/^a term (.*)$/, (m) => [$("other-terms"), pick(TEXT_PROBLEMS, m[1]).replace("此项", "条款")]],
  [/^other_terms has more than (\d+)/, (m) => [$("other-terms"), `其他条款最多 ${m[1]} 条。`]],
];
// the request's schema (pydantic: a list too long, a text too short), by field
const SCHEMA_FIELDS = {
  facts: () => [$("facts"), "请填写此项。"],
  items: () => [$("items-error"), "赔偿项目最多 40 项。"],
  vehicles: () => [$("vehicles-error"), "责任方最多 10 个。"],
  obligations: () => [$("obligations-error"), "付款最多 50 条。"],
  other_terms: () => [$("other-terms"), "其他条款最多 30 条。"],
};

/** Put the API's refusal next to its field; ``general`` takes what belongs to no field. */
function showProblem(err, rules, general) {
  if (err && (err.code === "invalid_command" || err.code === "validation_failed") && err.status === 422) {
    const detail = String(err.detail || "");
    for (const [re, place] of rules) {
      const m = re.exec(detail);
      if (!m) continue;
      const [target, text] = place(m);
      if (target) { fieldError(target, text); return; }
    }
    for (const e of err.errors || []) {
      const key = String(e.field || "").split(".").filter((p) => p !== "claim")[0];
      if (SCHEMA_FIELDS[key]) { const [target, text] = SCHEMA_FIELDS[key](); fieldError(target, text); return; }
    }
    fieldError(general, "请检查填写的内容。 Please check what you entered.");
    return;
  }
  if (err && err.status === 404) { deny("找不到该案件，或您不是本案的调解员。 No such case, or it is not yours."); return; }
  fieldError(general, problemText(err));
}

// ------------------------------------------------------------------ the calculator's form

function itemRow(item = {}) {
  const kind = el("select", { class: "i-kind", "aria-label": "赔偿项目 Item" },
    ...KINDS.map(([code, name]) => el("option", { value: code, text: name })));
  kind.value = item.kind || "medical";
  const row = el("div", { class: "row item-row" },
    el("label", { class: "field" }, "项目 ", kind),
    el("label", { class: "field" }, "金额（元） ", el("input", { class: "i-amount", inputmode: "decimal", maxlength: "24", placeholder: "如 12345.67", autocomplete: "off", value: item.amount || "" })),
    el("label", { class: "field grow" }, "依据 ", el("input", { class: "i-note", maxlength: "200", placeholder: "如 住院 15 天 × 100 元", autocomplete: "off", value: item.note || "" })),
  );
  const remove = el("button", { type: "button", class: "remove", text: "删除 Remove" });
  remove.addEventListener("click", () => { row.remove(); stale(); });
  row.append(remove);
  $("items").append(row);
  return row;
}

function vehicleRow(v = {}) {
  const fault = el("select", { class: "v-fault" },
    el("option", { value: "", text: "按责任比例（有比例即有责）" }),
    el("option", { value: "true", text: "有责" }),
    el("option", { value: "false", text: "无责" }));
  fault.value = v.driver_at_fault === true ? "true" : v.driver_at_fault === false ? "false" : "";
  const hasCompulsory = el("input", { type: "checkbox", class: "v-has-compulsory", checked: v.compulsory !== null });
  const hasCommercial = el("input", { type: "checkbox", class: "v-has-commercial", checked: Boolean(v.commercial) });
  const compulsory = el("div", { class: "policy v-compulsory-box" },
    el("label", { class: "field" }, "交强险保险公司 ", el("input", { class: "v-compulsory", maxlength: "100", list: "people", autocomplete: "off", value: v.compulsory?.insurer || "" })));
  const c = v.commercial || {};
  const commercial = el("div", { class: "policy v-commercial-box" },
    el("label", { class: "field" }, "商业三者险保险公司 ", el("input", { class: "v-commercial", maxlength: "100", list: "people", autocomplete: "off", value: c.insurer || "" })),
    el("label", { class: "field" }, "保额（元） ", el("input", { class: "v-limit", inputmode: "decimal", maxlength: "24", placeholder: "如 1000000", autocomplete: "off", value: c.limit || "" })),
    el("label", { class: "field" }, "绝对免赔率（%） ", el("input", { class: "v-deductible", inputmode: "decimal", maxlength: "10", autocomplete: "off", value: c.deductible_percent ?? "0" })),
    el("label", { class: "check" }, el("input", { type: "checkbox", class: "v-distress", checked: Boolean(c.covers_emotional_distress) }), " 附加精神损害抚慰金责任险"));
  const row = el("div", { class: "row vehicle-row" },
    el("label", { class: "field" }, "责任方 ", el("input", { class: "v-party", maxlength: "100", list: "people", autocomplete: "off", value: v.party || "" })),
    el("label", { class: "field" }, "责任比例（%） ", el("input", { class: "v-share", inputmode: "decimal", maxlength: "10", autocomplete: "off", value: v.liability_share ?? "" })),
    el("label", { class: "field" }, "驾驶人 ", fault),
    el("label", { class: "check" }, hasCompulsory, " 有交强险"), compulsory,
    el("label", { class: "check" }, hasCommercial, " 有商业三者险"), commercial,
  );
  const sync = () => { compulsory.hidden = !hasCompulsory.checked; commercial.hidden = !hasCommercial.checked; };
  hasCompulsory.addEventListener("change", sync);
  hasCommercial.addEventListener("change", sync);
  sync();
  const remove = el("button", { type: "button", class: "remove", text: "删除 Remove" });
  remove.addEventListener("click", () => { row.remove(); stale(); });
  row.append(remove);
  $("vehicles").append(row);
  return row;
}

/** The claim as calculateCompensation takes it (money and percentages as the text typed). */
function claimFromForm() {
  return {
    items: itemRows().map((r) => ({
      kind: r.querySelector(".i-kind").value,
      amount: r.querySelector(".i-amount").value.trim(),
      note: r.querySelector(".i-note").value.trim(),
    })),
    vehicles: vehicleRows().map((r) => {
      const q = (s) => r.querySelector(s);
      const fault = q(".v-fault").value;
      return {
        party: q(".v-party").value.trim(),
        liability_share: q(".v-share").value.trim(),
        driver_at_fault: fault === "" ? null : fault === "true",
        compulsory: q(".v-has-compulsory").checked ? { insurer: q(".v-compulsory").value.trim() } : null,
        commercial: q(".v-has-commercial").checked
          ? {
            insurer: q(".v-commercial").value.trim(),
            limit: q(".v-limit").value.trim(),
            deductible_percent: q(".v-deductible").value.trim() || "0",
            covers_emotional_distress: q(".v-distress").checked,
          }
          : null,
      };
    }),
    victim_share: $("victim-share").value.trim() || "0",
    emotional_distress_first: $("distress-first").checked,
  };
}

function fillCalculator(claim) {
  $("items").replaceChildren();
  $("vehicles").replaceChildren();
  for (const i of claim.items) itemRow(i);
  for (const v of claim.vehicles) vehicleRow(v);
  $("victim-share").value = claim.victim_share ?? "0";
  $("distress-first").checked = claim.emotional_distress_first !== false;
}

function stale() {
  if (!lastSplit) return;
  show("result-stale");
  $("to-draft").disabled = true;
}

// ------------------------------------------------------------------ the result

function renderSplit(split) {
  const payers = split.payers;
  const header = ["赔偿项目", "交强险分项", "金额（元）", ...payers.map((p) => p.label)];
  const table = $("result-table");
  table.replaceChildren();
  table.append(el("thead", {}, el("tr", {}, ...header.map((h) => el("th", { text: h })))));
  const body = el("tbody");
  for (const item of split.items) {
    body.append(el("tr", { "data-kind": item.kind },
      el("td", { text: item.label + (item.note ? `（${item.note}）` : "") }),
      el("td", { text: CATEGORIES[item.category] || item.category }),
      el("td", { class: "money", text: yuan(item.amount) }),
      ...payers.map((p) => el("td", { class: "money", text: yuan(item.parts[p.key]) }))));
  }
  body.append(el("tr", { class: "total" },
    el("td", { text: "合计" }), el("td", { text: "" }), el("td", { class: "money", text: yuan(split.grand_total) }),
    ...payers.map((p) => el("td", { class: "money", text: yuan(p.total) }))));
  table.append(body);
  $("recovered").textContent = `损失合计 ${yuan(split.grand_total)} 元，受害人获赔 ${yuan(split.recovered)} 元。`;
  $("payer-totals").replaceChildren(...payers.map((p) => el("li", { "data-payer": p.key, text: `${p.label}：${yuan(p.total)} 元` })));
  $("explanation").replaceChildren(...split.explanation.map((line) => el("li", { text: line })));
  show("result");
  show("result-stale", false);
  $("to-draft").disabled = false;
}

$("calc").addEventListener("input", stale);
$("calc").addEventListener("change", stale);
$("add-item").addEventListener("click", () => { itemRow().querySelector(".i-amount").focus(); stale(); });
$("add-vehicle").addEventListener("click", () => { vehicleRow().querySelector(".v-party").focus(); stale(); });
$("calc").addEventListener("submit", async (e) => {
  e.preventDefault();
  clearErrors($("calc"));
  const claim = claimFromForm();
  $("calculate").disabled = true;
  try {
    const split = await api("POST", `${base}/agreement/calculate`, claim);
    lastClaim = claim; lastSplit = split;
    renderSplit(split);
    status("");
  } catch (err) {
    showProblem(err, CLAIM_RULES, $("calc-error"));
  } finally { $("calculate").disabled = false; }
});

// ------------------------------------------------------------------ the draft

/** Who pays in the agreement: each insurer or party once (an insurer under two policies pays one sum). */
function payments(split) {
  const sums = new Map();
  for (const p of split.payers) {
    if (p.role === "victim" || fen(p.total) === 0) continue;
    const who = p.role === "liable_party" ? p.party_id : p.insurer;
    sums.set(who, (sums.get(who) || 0) + fen(p.total));
  }
  return [...sums].map(([payer, total]) => ({ payer, amount: plainOf(total) }));
}

function obligationRow(o = {}) {
  const row = el("div", { class: "row obligation-row" },
    el("label", { class: "field" }, "付款人 ", el("input", { class: "o-payer", maxlength: "100", list: "people", autocomplete: "off", value: o.payer || "" })),
    el("label", { class: "field" }, "收款人 ", el("input", { class: "o-payee", maxlength: "100", list: "people", autocomplete: "off", value: o.payee || $("payee").value })),
    el("label", { class: "field" }, "金额（元） ", el("input", { class: "o-amount", inputmode: "decimal", maxlength: "24", autocomplete: "off", value: o.amount || "" })),
    el("label", { class: "field" }, "付款期限 ", el("input", { class: "o-due", type: "date", value: o.due || $("pay-by").value })),
    el("label", { class: "field" }, "方式 ", el("input", { class: "o-method", maxlength: "100", autocomplete: "off", value: o.method || "银行转账" })),
  );
  const remove = el("button", { type: "button", class: "remove", text: "删除 Remove" });
  remove.addEventListener("click", () => row.remove());
  row.append(remove);
  $("obligations").append(row);
  return row;
}

function submitLabel() {
  const next = drafts.length ? drafts[drafts.length - 1].version + 1 : 1;
  $("submit-draft").replaceChildren(`提交第 ${next} 稿 `, el("small", { text: next > 1 ? `Save as draft ${next}` : "Save draft 1" }));
}

$("to-draft").addEventListener("click", () => {
  if (!lastSplit) return;
  $("obligations").replaceChildren();
  for (const p of payments(lastSplit)) obligationRow({ ...p, payee: $("payee").value });
  submitLabel();
  show("editor");
  $("facts").focus();
});
$("add-obligation").addEventListener("click", () => obligationRow().querySelector(".o-payer").focus());
$("pay-by").addEventListener("change", () => { for (const f of $("obligations").querySelectorAll(".o-due")) f.value = $("pay-by").value; });
$("payee").addEventListener("change", () => { for (const f of $("obligations").querySelectorAll(".o-payee")) f.value = $("payee").value; });

function termsFromForm() {
  return {
    facts: $("facts").value.trim(),
    claim: lastClaim,
    obligations: obligationRows().map((r) => ({
      payer: r.querySelector(".o-payer").value.trim(),
      payee: r.querySelector(".o-payee").value.trim(),
      amount: r.querySelector(".o-amount").value.trim(),
      due: r.querySelector(".o-due").value,
      method: r.querySelector(".o-method").value.trim(),
    })),
    other_terms: $("other-terms").value.split("\n").map((t) => t.trim()).filter(Boolean),
  };
}

$("draft-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  clearErrors($("draft-form"));
  if (!lastClaim || !$("result-stale").hidden) { fieldError($("draft-error"), "请先完成计算。 Calculate first."); return; }
  $("submit-draft").disabled = true;
  try {
    const made = await api("POST", `${base}/agreement/drafts`, termsFromForm());
    status(`已保存第 ${made.version} 稿。 Draft ${made.version} saved.`);
    await loadDrafts();
  } catch (err) {
    showProblem(err, DRAFT_RULES, $("draft-error"));
  } finally { $("submit-draft").disabled = false; }
});

/** Load a stored version into both forms (its split is the server's, stored with it). */
function editFrom(d) {
  const t = d.terms;
  if (t.claim) {
    fillCalculator(t.claim);
    lastClaim = claimFromForm();
    if (d.split) { lastSplit = d.split; renderSplit(d.split); }
  }
  $("facts").value = t.facts || "";
  $("obligations").replaceChildren();
  for (const o of t.obligations || []) obligationRow(o);
  if (t.obligations && t.obligations.length) { $("payee").value = t.obligations[0].payee; $("pay-by").value = t.obligations[0].due; }
  $("other-terms").value = (t.other_terms || []).join("\n");
  submitLabel();
  show("editor", Boolean(lastClaim));
}

// ------------------------------------------------------------------ the versions and the comments

async function openPdf(d, button) {
  try {
    const res = await fetch(`${base}/documents/${encodeURIComponent(d.pdf_document_id)}`, { headers: { Authorization: "Bearer " + token } });
    if (!res.ok) throw { status: res.status, ...(await res.json().catch(() => ({}))) };
    const link = el("a", { class: "pdf-link", href: URL.createObjectURL(await res.blob()), target: "_blank", rel: "noopener", download: `agreement-draft-${d.version}.pdf` });
    link.textContent = `下载第 ${d.version} 稿 PDF`;
    button.replaceWith(link);
  } catch (err) { status(problemText(err, "无法打开协议。 The draft could not be opened.")); }
}

function renderDrafts() {
  const list = $("version-list");
  list.replaceChildren();
  for (const d of [...drafts].reverse()) {
    const open = el("button", { type: "button", class: "open-pdf", text: "打开 PDF Open" });
    open.addEventListener("click", () => openPdf(d, open));
    const edit = el("button", { type: "button", class: "edit-from", text: "以此稿修改 Edit from this" });
    edit.addEventListener("click", () => { editFrom(d); $("facts").focus(); });
    const total = d.split ? ` · 合计 ${yuan(d.split.grand_total)} 元` : "";
    const item = el("li", { "data-version": String(d.version) },
      el("p", { class: "draft-title", text: `第 ${d.version} 稿 · ${beijing(d.drafted_at)}${total}` }),
      el("p", { class: "actions" }, open, " ", edit));
    const comments = el("ul", { class: "comments" });
    for (const c of d.comments) {
      comments.append(el("li", { class: "draft-comment", "data-comment-id": c.id },
        el("b", { text: `${c.name || "—"}：` }), c.text, el("small", { text: ` ${beijing(c.at)}` })));
    }
    if (!d.comments.length) comments.append(el("li", { class: "no-comment", text: "暂无意见 No comments" }));
    item.append(comments);
    list.append(item);
  }
  show("no-versions", !drafts.length);
  submitLabel();
}

async function loadDrafts() {
  try {
    ({ drafts } = await api("GET", `${base}/agreement/drafts`));
    renderDrafts();
  } catch (err) { status(problemText(err, "无法读取协议版本。 The drafts could not be read.")); }
}
$("refresh").addEventListener("click", loadDrafts);
document.addEventListener("visibilitychange", () => { if (!document.hidden && !$("versions").hidden) loadDrafts(); });

// ------------------------------------------------------------------ start

async function start() {
  if (!caseId) { deny("未指定案件，请从调解员工作台打开。 Open this page from the console."); return; }
  if (!token) { deny("请先登录调解员工作台，再从案件列表打开本页。 Log in on the console first."); return; }
  let c;
  try { c = await api("GET", base); } catch (err) {
    if (err.status === 401) deny("登录已失效，请回到调解员工作台重新登录。 Log in again on the console.");
    else if (err.status === 404 || err.status === 403) deny("找不到该案件，或您不是本案的调解员。 No such case, or it is not yours.");
    else deny(problemText(err));
    return;
  }
  if (c.your_role !== "mediator") { deny("此页面仅供本案调解员使用。 This page is for the case's mediator only."); return; }
  people = c.participants;
  $("case-title").textContent = `${c.number} · ${c.title} · ${stateName(c.state)}`;
  $("people").replaceChildren(...people.filter((p) => p.role !== "mediator" && p.role !== "judge").map((p) => el("option", { value: p.display_name })));
  const applicant = people.find((p) => p.role === "applicant");
  if (applicant) $("payee").value = applicant.display_name;
  show("calculator"); show("versions");
  await loadDrafts();
  const latest = drafts[drafts.length - 1];
  if (latest && latest.terms.claim) editFrom(latest);
  else {
    itemRow();
    const respondent = people.find((p) => p.role === "respondent");
    vehicleRow({ party: respondent ? respondent.display_name : "", liability_share: "100" });
  }
}

start();
