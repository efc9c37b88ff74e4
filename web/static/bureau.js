// The justice bureau's page (/bureau): a bureau officer logs in and reads, per appraisal institution, the average
// score, the number of evaluations and each evaluation (who evaluated by role only, the score, the comment, when).
import { el, said, when } from "/static/appraisal-party.js";

const $ = (id) => document.getElementById(id);
const show = (id, on = true) => { $(id).hidden = !on; };
let token = sessionStorage.getItem("mediation-token");

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { ...(token ? { Authorization: "Bearer " + token } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw data;
  return data;
}

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
    if (err && ["unauthenticated", "token_expired", "token_revoked"].includes(err.code)) { token = null; sessionStorage.removeItem("mediation-token"); }
    show("evaluations", false); show("login");
    if (err && err.code && err.code !== "unauthenticated") $("status").textContent = said(err, "无法打开。 Cannot open.");
  }
}

$("refresh").addEventListener("click", load);
$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const res = await api("POST", "/api/v1/auth/login", { username: $("username").value, password: $("password").value });
    token = res.token;
    sessionStorage.setItem("mediation-token", token);
    $("status").textContent = "";
    await load();
  } catch (err) { $("status").textContent = said(err, "登录失败。 Login failed."); }
});
$("logout").addEventListener("click", async () => {
  try { await api("POST", "/api/v1/auth/logout"); } catch { /* gone either way */ }
  token = null; sessionStorage.removeItem("mediation-token"); show("evaluations", false); show("login");
});
if (token) load(); else show("login");
