// A court's roster of invited mediation organisations and mediators (特邀调解名册) on /staff.
// A court's administrator lists it (filtered by specialty, status, in term), adds an organisation or one of its
// mediators with specialties and a term, and suspends, restores or removes members. A mediation organisation's
// administrator sees on which courts' rosters the organisation and its mediators are, and each mediator's profile.
import { ERRORS, ROSTER_STATUSES, SPECIALTIES } from "/static/words.js";
import { showProfile } from "/static/profile.js";

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};
const token = sessionStorage.getItem("mediation-token");
const MEDIATION = ["peoples_mediation", "industry_mediation"];
const PROBLEMS = {
  ...ERRORS,
  duplicate: "该机构或调解员已在名册中。This member is on the roster already.",
  invalid_command: "无法加入名册：请检查机构类型、专业领域和聘期（最长五年）。Check the member, specialties and term (at most 5 years).",
  illegal_transition: "当前状态不能进行此操作。Not possible in this status.",
};

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (!res.ok) throw data;
  return data;
}

const problem = (err) => PROBLEMS[err && err.code] || (err && err.detail) || "操作失败。Something went wrong.";
const cell = (text) => el("td", { textContent: text });
const specialtyNames = (list) => list.map((s) => SPECIALTIES[s.value] || s.name).join("、");
const day = (iso) => new Date(iso).toLocaleDateString("zh-CN", { timeZone: "Asia/Shanghai" });
// the term as the page shows it: its last day (the stored end is the exclusive midnight after it)
const term = (e) => `${day(e.term_start)} – ${day(new Date(new Date(e.term_end).getTime() - 1).toISOString())}`;
const member = (e) => (e.member === "mediator" ? `${e.mediator_name}（${e.organisation_name}）` : e.organisation_name);
const beijingMidnight = (date) => `${date}T00:00:00+08:00`;
const nextDay = (date) => {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
};

// ------------------------------------------------------------------ a court's administrator

let courtId = null;

function rosterPath() { return `/api/v1/organisations/${encodeURIComponent(courtId)}/roster`; }

async function loadRoster() {
  const q = new URLSearchParams();
  if ($("roster-filter-specialty").value) q.set("specialty", $("roster-filter-specialty").value);
  if ($("roster-filter-status").value) q.set("status", $("roster-filter-status").value);
  if ($("roster-filter-in-term").checked) q.set("in_term", "true");
  let roster;
  try { roster = await api("GET", `${rosterPath()}?${q}`); }
  catch (err) { $("roster-status").textContent = problem(err); return; }
  $("roster-rows").replaceChildren(...roster.entries.map((e) => {
    const tr = el("tr");
    tr.dataset.entryId = e.id;
    tr.dataset.status = e.status;
    const actions = el("td");
    const act = (label, cls, status, ask) => {
      const b = el("button", { className: cls, textContent: label });
      b.addEventListener("click", async () => {
        if (ask && !confirm(ask)) return;
        try {
          await api("PATCH", `${rosterPath()}/${encodeURIComponent(e.id)}`, { status });
          $("roster-status").textContent = `${member(e)}：${ROSTER_STATUSES[status]}`;
          loadRoster();
        } catch (err) { $("roster-status").textContent = problem(err); }
      });
      actions.append(b);
    };
    if (e.status === "active") act("暂停 Suspend", "roster-suspend", "suspended", `暂停 ${member(e)}？暂停期间不再委派案件。 Suspend? No new referrals meanwhile.`);
    else act("恢复 Restore", "roster-restore", "active", "");
    if (e.status !== "removed") act("除名 Remove", "danger roster-remove", "removed", `将 ${member(e)} 从名册除名？ Remove from the roster?`);
    tr.append(cell(member(e)), cell(e.member === "mediator" ? "调解员 Mediator" : e.organisation_kind_name),
      cell(specialtyNames(e.specialties)), cell(term(e)),
      cell(`${ROSTER_STATUSES[e.status] || e.status_name}${e.status === "active" && !e.in_term ? "（不在聘期 out of term）" : ""}`),
      actions);
    return tr;
  }));
  if (!roster.entries.length) $("roster-rows").append(el("tr", {}, el("td", { colSpan: 6, textContent: "暂无 None" })));
}

async function loadMediators() {
  const orgId = $("roster-organisation").value;
  const select = $("roster-mediator");
  select.replaceChildren();
  if (!orgId || !$("roster-as-mediator").checked) return;
  try {
    const q = new URLSearchParams({ organisation_id: orgId });
    const { mediators } = await api("GET", `/api/v1/organisations/${encodeURIComponent(courtId)}/roster-candidates?${q}`);
    select.append(...mediators.map((m) => el("option", { value: m.id, textContent: m.display_name })));
    if (!mediators.length) select.append(el("option", { value: "", textContent: "（该机构暂无调解员 no mediators）" }));
  } catch (err) { $("roster-status").textContent = problem(err); }
}

async function court(organisation) {
  courtId = organisation.id;
  const options = (select, first) => select.replaceChildren(el("option", { value: "", textContent: first }),
    ...Object.entries(SPECIALTIES).map(([v, n]) => el("option", { value: v, textContent: n })));
  options($("roster-filter-specialty"), "全部领域 All specialties");
  $("roster-filter-status").replaceChildren(el("option", { value: "", textContent: "全部状态 All statuses" }),
    ...Object.entries(ROSTER_STATUSES).map(([v, n]) => el("option", { value: v, textContent: n })));
  $("roster-specialties").replaceChildren(...Object.entries(SPECIALTIES).map(([v, n]) =>
    el("label", { className: "roster-specialty" }, el("input", { type: "checkbox", value: v }), " ", n)));
  const today = new Date().toLocaleDateString("sv-SE", { timeZone: "Asia/Shanghai" });  // YYYY-MM-DD
  $("roster-start").value = today;
  const end = new Date(`${today}T00:00:00Z`);
  end.setUTCFullYear(end.getUTCFullYear() + 3);
  end.setUTCDate(end.getUTCDate() - 1);
  $("roster-end").value = end.toISOString().slice(0, 10);
  try {
    const { organisations } = await api("GET", `/api/v1/organisations/${encodeURIComponent(courtId)}/roster-candidates`);
    $("roster-organisation").replaceChildren(...organisations.map((o) =>
      el("option", { value: o.id, textContent: `${o.name} · ${o.kind_name}${o.region ? " · " + o.region : ""}` })));
  } catch (err) { $("roster-status").textContent = problem(err); return; }
  for (const id of ["roster-filter-specialty", "roster-filter-status", "roster-filter-in-term"]) $(id).addEventListener("change", loadRoster);
  $("roster-organisation").addEventListener("change", loadMediators);
  $("roster-as-mediator").addEventListener("change", () => { $("roster-mediator-label").hidden = !$("roster-as-mediator").checked; loadMediators(); });
  $("roster-add").addEventListener("submit", async (e) => {
    e.preventDefault();
    const specialties = [...document.querySelectorAll("#roster-specialties input:checked")].map((b) => b.value);
    if (!specialties.length) { $("roster-status").textContent = "请至少选择一个专业领域。Choose at least one specialty."; return; }
    const body = { specialties, term_start: beijingMidnight($("roster-start").value), term_end: beijingMidnight(nextDay($("roster-end").value)) };
    if ($("roster-as-mediator").checked) body.account_id = $("roster-mediator").value;
    else body.organisation_id = $("roster-organisation").value;
    try {
      const added = await api("POST", rosterPath(), body);
      $("roster-status").textContent = `已加入名册：${member(added)}。Added to the roster.`;
      document.querySelectorAll("#roster-specialties input").forEach((b) => { b.checked = false; });
      loadRoster();
    } catch (err) { $("roster-status").textContent = problem(err); }
  });
  $("roster").hidden = false;
  await loadRoster();
}

// ------------------------------------------------------------------ a mediation organisation's administrator

async function memberOrganisation(organisation) {
  let mine;
  try { mine = await api("GET", `/api/v1/organisations/${encodeURIComponent(organisation.id)}/memberships`); }
  catch (err) { $("memberships-status").textContent = problem(err); return; }
  $("membership-rows").replaceChildren(...mine.entries.map((e) => {
    const tr = el("tr", {}, cell(e.court_name), cell(member(e)), cell(specialtyNames(e.specialties)), cell(term(e)),
      cell(ROSTER_STATUSES[e.status] || e.status_name));
    tr.dataset.entryId = e.id;
    return tr;
  }));
  if (!mine.entries.length) $("membership-rows").append(el("tr", {}, el("td", { colSpan: 5, textContent: "尚未列入任何法院名册 On no court's roster yet" })));
  $("member-mediators").replaceChildren(...mine.mediators.map((m) => {
    const details = el("details", { className: "member-mediator" }, el("summary", { textContent: `${m.display_name}${m.disabled ? "（已停用 disabled）" : ""}` }));
    details.dataset.accountId = m.id;
    const body = el("div");
    details.append(body);
    details.addEventListener("toggle", () => { if (details.open) showProfile(body, m.id); });
    return el("li", {}, details);
  }));
  $("memberships").hidden = false;
}

async function main() {
  if (!token) return;
  let mine;
  try { mine = await api("GET", "/api/v1/organisations/mine"); } catch { return; }
  if (mine.account_kind !== "org_admin") return;
  if (mine.organisation.kind === "court") await court(mine.organisation);
  else if (MEDIATION.includes(mine.organisation.kind)) await memberOrganisation(mine.organisation);
}

main();
