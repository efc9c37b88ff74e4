// The court's referral desk (委派调解) on /court: a clerk or judge refers a case, with its parties, to a
// mediation organisation on the court's roster, and follows the cases the court referred (who holds
// each, its state, the mediation period, a red 超期 flag, the timeline). The list and the timeline are
// shared with the organisation's desk (referral-org.js) and the mediator's (referral-desk.js).
import { ERRORS, T, DISPUTES, OVERDUE, REFERRAL_KINDS, stateName } from "/static/words.js";

const $ = (id) => document.getElementById(id);

/** Beijing time, as every desk reads the clock. */
export const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) : "—");

/** A problem in Chinese first (the server's words only for what the page does not know). */
export const problem = (err, fallback) => (err && ERRORS[err.code]) || (err && err.detail ? `${fallback}（${err.detail}）` : fallback);

/** A JSON call with the given login; a problem+json answer is thrown. */
export async function call(token, method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { Authorization: "Bearer " + token, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (!res.ok) throw data;
  return data;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** Options of a <select> from a {value: words} map. */
export function fill(select, words) {
  select.replaceChildren(...Object.entries(words).map(([value, label]) => {
    const o = el("option", label); o.value = value; return o;
  }));
}

/** One party row of a referral or application form: role, name, mobile, e-mail, remove. */
export function partyRow(container, role = "applicant") {
  const row = el("div", undefined, "party-row");
  const select = el("select", undefined, "party-role");
  select.setAttribute("aria-label", "身份 Role");
  fill(select, { applicant: T.applicant, respondent: T.respondent, insurer: T.insurer });
  select.value = role;
  const input = (cls, label, attrs) => {
    const i = el("input", undefined, cls);
    i.setAttribute("aria-label", label); i.placeholder = label;
    for (const [k, v] of Object.entries(attrs)) i.setAttribute(k, v);
    return i;
  };
  const remove = el("button", "删除 Remove", "party-remove");
  remove.type = "button";
  remove.addEventListener("click", () => { if (container.children.length > 1) row.remove(); });
  row.append(select, input("party-name", "姓名或名称 Name", { maxlength: "200", required: "" }),
    input("party-phone", "手机 Mobile", { inputmode: "tel", pattern: "\\+?[0-9]{5,20}" }),
    input("party-email", "电子邮箱 E-mail", { type: "email", maxlength: "254" }), remove);
  container.append(row);
  return row;
}

/** The parties typed in a form's rows, as the API takes them. */
export function partiesOf(container) {
  return [...container.querySelectorAll(".party-row")].map((row) => {
    const party = { role: row.querySelector(".party-role").value, display_name: row.querySelector(".party-name").value.trim() };
    const phone = row.querySelector(".party-phone").value.trim();
    const email = row.querySelector(".party-email").value.trim();
    if (phone) party.phone = phone;
    if (email) party.email = email;
    return party;
  });
}

/** Show a case's timeline (委派, 分派, 退回, 受理, 延长…: what, who, Beijing time) in ``box``. */
export async function showTimeline(box, token, caseId) {
  box.replaceChildren(el("p", "正在读取… Loading…"));
  try {
    const { steps } = await call(token, "GET", `/api/v1/cases/${encodeURIComponent(caseId)}/timeline`);
    const list = el("ol", undefined, "timeline");
    for (const s of steps) {
      const li = el("li");
      li.dataset.action = s.action;
      li.append(el("span", s.label, "label"), " ", el("span", s.who ? `· ${s.who}` : "", "who"), " ", el("span", `· ${when(s.at)}`, "at"));
      list.append(li);
    }
    box.replaceChildren(list);
  } catch (err) { box.replaceChildren(el("p", problem(err, "无法读取进度。 The timeline cannot be read."), "warn")); }
}

/**
 * Render tracked cases into ``rows`` (a <tbody>): number, title, where it came from or went, who holds it
 * (or 待分派), its state, the period's deadline with a red 超期 flag, and a 进度 button that opens the
 * timeline in a row below. ``actions(c, td)`` may add buttons to the last cell.
 */
export function renderTracked(rows, cases, token, { where = (c) => c.organisation.name, actions = null } = {}) {
  rows.replaceChildren();
  for (const c of cases) {
    const tr = el("tr");
    tr.dataset.caseId = c.id;
    tr.dataset.state = c.state;
    const deadline = el("td", when(c.period_deadline));
    if (c.overdue) deadline.append(el("span", OVERDUE, "overdue-flag"));
    tr.append(el("td", c.court_case_number ? `${c.number}（${c.court_case_number}）` : c.number), el("td", c.title), el("td", where(c)),
      el("td", c.holder ? c.holder.name : "待分派 Unassigned", "holder"), el("td", stateName(c.state), "state"), deadline);
    const td = el("td", undefined, "actions");
    if (actions) actions(c, td);
    const more = el("button", "进度 Timeline", "timeline-button");
    more.type = "button";
    td.append(more);
    tr.append(td);
    rows.append(tr);
    const below = el("tr", undefined, "timeline-row");
    below.hidden = true;
    const box = el("td");
    box.colSpan = 7;
    below.append(box);
    rows.append(below);
    more.addEventListener("click", () => {
      below.hidden = !below.hidden;
      if (!below.hidden) showTimeline(box, token, c.id);
    });
  }
}

export const referralKindName = (c) => REFERRAL_KINDS[c.referral_kind] || c.referral_kind;

// ------------------------------------------------------------------ the court's desk

let wired = false;
const session = { token: "", court: null };  // who is logged in now (a judge may log out and in again)

function wire() {
  const say = (text) => { $("refer-status").textContent = text || ""; };
  fill($("refer-kind"), { pre_litigation: REFERRAL_KINDS.pre_litigation, in_litigation: REFERRAL_KINDS.in_litigation });
  fill($("refer-dispute"), DISPUTES);
  const numbered = () => {
    const on = $("refer-kind").value === "in_litigation";
    $("refer-number-label").hidden = !on;
    $("refer-number").required = on;
  };
  $("refer-kind").addEventListener("change", numbered);
  numbered();
  $("refer-parties").replaceChildren();
  partyRow($("refer-parties"), "applicant");
  partyRow($("refer-parties"), "respondent");
  $("refer-add-party").addEventListener("click", () => partyRow($("refer-parties"), "respondent"));
  $("refer-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!$("refer-organisation").value) { say("本院名册中暂无可委派的调解组织。 No organisation on the roster."); return; }
    const body = {
      organisation_id: $("refer-organisation").value,
      referral_kind: $("refer-kind").value,
      court_case_number: $("refer-kind").value === "in_litigation" ? $("refer-number").value.trim() : "",
      kind: $("refer-dispute").value,
      title: $("refer-title").value.trim(),
      parties: partiesOf($("refer-parties")),
    };
    try {
      const out = await call(session.token, "POST", "/api/v1/referrals", body);
      say(`已委派：${out.number} → ${out.organisation.name}。 Referred.`);
      $("refer-form").reset();
      numbered();
      $("refer-parties").replaceChildren();
      partyRow($("refer-parties"), "applicant");
      partyRow($("refer-parties"), "respondent");
      await loadOrganisations(session.token, session.court);
      await loadReferrals(session.token);
    } catch (err) { say(problem(err, "未能委派。 Not referred.")); }
  });
  $("referrals-refresh").addEventListener("click", () => loadReferrals(session.token));
  $("referrals-logout").addEventListener("click", async () => {
    await call(session.token, "POST", "/api/v1/auth/logout").catch(() => {});
    sessionStorage.removeItem("mediation-token");
    location.reload();
  });
  // the judge's own log-out (court.js) and an open application hide this desk
  const logout = $("logout");
  if (logout) logout.addEventListener("click", () => { $("referrals").hidden = true; });
  const application = $("application");
  if (application) {
    new MutationObserver(() => { $("referrals").hidden = !application.hidden || !$("login").hidden; })
      .observe(application, { attributes: true, attributeFilter: ["hidden"] });
  }
}

/** The organisations the court may refer to now: active and in their term on its roster (one per organisation). */
async function loadOrganisations(token, court) {
  const roster = await call(token, "GET", `/api/v1/organisations/${encodeURIComponent(court.id)}/roster?status=active&in_term=true`);
  const seen = new Map();
  for (const e of roster.entries) if (e.active && !seen.has(e.organisation_id)) seen.set(e.organisation_id, e.organisation_name);
  const select = $("refer-organisation");
  const before = select.value;
  select.replaceChildren(...[...seen].map(([id, name]) => { const o = el("option", name); o.value = id; return o; }));
  if (seen.has(before)) select.value = before;
  $("refer-no-organisation").hidden = seen.size > 0;
}

/** A failed mediation came back to the court: its record of undisputed facts (the sealed PDF) opens here. */
function factsButton(c, td, token) {
  if (c.state !== "mediation_failed") return;
  const button = el("button", "无争议事实记载 Undisputed facts", "facts-button");
  button.type = "button";
  button.addEventListener("click", async () => {
    const res = await fetch(`/api/v1/court/cases/${encodeURIComponent(c.id)}/facts/document`, {
      headers: { Authorization: "Bearer " + token },
    });
    if (!res.ok) {
      const err = await res.json().catch(() => ({}));
      button.after(el("span", problem(err, "无法打开无争议事实记载。 The record cannot be opened."), "warn"));
      return;
    }
    window.open(URL.createObjectURL(await res.blob()), "_blank");
  });
  td.append(button);
}

async function loadReferrals(token) {
  try {
    const { cases } = await call(token, "GET", "/api/v1/referrals");
    renderTracked($("referral-rows"), cases, token, { actions: (c, td) => factsButton(c, td, token) });
    $("referrals-empty").hidden = cases.length > 0;
  } catch (err) { $("refer-status").textContent = problem(err, "无法读取委派案件。 The list cannot be read."); }
}

/**
 * Open the referral desk for the court's staff logged in with ``token``: the form for its clerks and
 * judges, the list for all of them. Answers whether the caller is court staff (court.js then keeps
 * the page for them even when the judges' confirmation queue is not theirs).
 */
export async function openReferrals(token) {
  let mine;
  try { mine = await call(token, "GET", "/api/v1/organisations/mine"); } catch { return false; }
  if (mine.organisation.kind !== "court" || !["clerk", "judge", "org_admin"].includes(mine.account_kind)) return false;
  const refers = mine.account_kind === "clerk" || mine.account_kind === "judge";
  $("referrals-who").textContent = `${mine.organisation.name} · ${mine.account_kind_name}`;
  $("refer-form").hidden = !refers;
  $("referrals-logout-line").hidden = mine.account_kind === "judge";  // the judge logs out from the queue
  session.token = token; session.court = mine.organisation;
  if (!wired) { wired = true; wire(); }
  if (refers) await loadOrganisations(token, mine.organisation).catch((err) => { $("refer-status").textContent = problem(err, "无法读取本院名册。 The roster cannot be read."); });
  await loadReferrals(token);
  $("referrals").hidden = false;
  return true;
}
