// The justice bureau's page (/bureau): a bureau officer logs in and reads, per appraisal institution, the average
// score, the number of evaluations and each evaluation (who evaluated by role only, the score, the comment, when).
import { el, said, when } from "/static/appraisal-party.js";
import { api, forgetIfExpired, mountLogin } from "/static/desk-login.js";

const $ = (id) => document.getElementById(id);
const show = (id, on = true) => { $(id).hidden = !on; };
async function load() {
  try {
    const view = await api("GET", "/api/v1/appraisal/evaluations");
    try { $("organisation").textContent = (await api("GET", "/api/v1/organisations/mine")).organisation.name; } catch { /* a courtesy */ }
    $("rows").replaceChildren(...view.institutions.map((i) => {
      const tr = el("tr", undefined, { "data-id": i.institution_id });
      tr.append(el("td", i.name), el("td", String(i.average)), el("td", String(i.count)));
      return tr;
    }));
    $("details").replaceChildren(...view.institutions.map((i) => {
      const box = el("section", undefined, { class: "evaluations", "data-id": i.institution_id });
      box.append(el("h3", `${i.name}：平均 ${i.average} 分，共 ${i.count} 条 Average ${i.average}, ${i.count} evaluations`));
      const ul = el("ul");
      for (const e of i.evaluations) ul.append(el("li", `${e.evaluator_role_name} ${e.score} 分 ${e.comment || ""}（${when(e.at)}）`));
      box.append(ul);
      return box;
    }));
    show("empty", !view.institutions.length);
    show("login", false); show("evaluations");
  } catch (err) {
    forgetIfExpired(err);
    show("evaluations", false); show("login");
    if (err && err.code && err.code !== "unauthenticated") $("status").textContent = said(err, "无法打开。 Cannot open.");
  }
}

$("refresh").addEventListener("click", load);
mountLogin({ open: load, close: () => show("evaluations", false), status: (text) => { $("status").textContent = text; }, said });
