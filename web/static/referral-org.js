// The organisation's referral desk (待分派案件) on /staff, for its administrator: every case of the
// organisation with its state, holder, period and timeline; a referred case (or one assigned and not yet
// accepted, to re-assign) is assigned to one of its mediators; a party's direct application is recorded.
import { DISPUTES } from "/static/words.js";
import { call, fill, partiesOf, partyRow, problem, referralKindName, renderTracked } from "/static/referral-court.js";

const $ = (id) => document.getElementById(id);
const ASSIGNABLE = ["referred", "assigned"];

let session = null;  // { organisation, token }

const say = (text) => { $("org-desk-status").textContent = text || ""; };

async function mediators() {
  const { accounts } = await call(session.token, "GET", `/api/v1/organisations/${encodeURIComponent(session.organisation.id)}/accounts`);
  return accounts.filter((a) => a.kind === "mediator" && !a.disabled);
}

async function load() {
  const base = `/api/v1/organisations/${encodeURIComponent(session.organisation.id)}`;
  try {
    const [{ cases }, people] = await Promise.all([call(session.token, "GET", `${base}/cases`), mediators()]);
    const where = (c) => (c.court ? `${c.court.name}（${referralKindName(c)}）` : referralKindName(c));
    renderTracked($("org-case-rows"), cases, session.token, {
      where,
      actions: (c, td) => {
        if (!ASSIGNABLE.includes(c.state)) return;
        const pick = document.createElement("select");
        pick.className = "assign-mediator";
        pick.setAttribute("aria-label", "调解员 Mediator");
        for (const m of people) {
          const o = document.createElement("option");
          o.value = m.id; o.textContent = m.display_name;
          pick.append(o);
        }
        if (c.holder && people.some((m) => m.id === c.holder.id)) pick.value = c.holder.id;
        const go = document.createElement("button");
        go.type = "button"; go.className = "assign primary";
        go.textContent = c.state === "assigned" ? "改派 Re-assign" : "分派 Assign";
        go.disabled = !people.length;
        go.addEventListener("click", async () => {
          go.disabled = true;
          try {
            const out = await call(session.token, "POST", `/api/v1/cases/${encodeURIComponent(c.id)}/assignment`, { mediator_account_id: pick.value });
            say(`${out.number} 已分派给 ${out.holder.name}，待其受理。 Assigned.`);
            await load();
          } catch (err) { say(problem(err, "未能分派。 Not assigned.")); go.disabled = false; }
        });
        td.append(pick, go);
      },
    });
    $("org-cases-empty").hidden = cases.length > 0;
    $("org-no-mediator").hidden = people.length > 0;
  } catch (err) { say(problem(err, "无法读取本机构案件。 The cases cannot be read.")); }
}

function resetApplication() {
  $("apply-form").reset();
  $("apply-parties").replaceChildren();
  partyRow($("apply-parties"), "applicant");
  partyRow($("apply-parties"), "respondent");
}

/** Open the desk for the organisation's administrator (staff.js calls it once it knows who is logged in). */
export async function showOrgDesk(organisation, token) {
  if (!["peoples_mediation", "industry_mediation"].includes(organisation.kind)) return;  // a court's administrator has no queue
  const first = session === null;
  session = { organisation, token };
  if (first) {
    fill($("apply-kind"), DISPUTES);
    resetApplication();
    $("apply-add-party").addEventListener("click", () => partyRow($("apply-parties"), "respondent"));
    $("org-cases-refresh").addEventListener("click", () => load());
    $("apply-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = { title: $("apply-title").value.trim(), kind: $("apply-kind").value, parties: partiesOf($("apply-parties")) };
      try {
        const out = await call(session.token, "POST", `/api/v1/organisations/${encodeURIComponent(session.organisation.id)}/applications`, body);
        $("apply-status").textContent = `已登记：${out.number}，已进入待分派案件。 Recorded.`;
        resetApplication();
        await load();
      } catch (err) { $("apply-status").textContent = problem(err, "未能登记。 Not recorded."); }
    });
  }
  $("org-desk").hidden = false;
  await load();
}
