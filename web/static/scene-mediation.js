// 申请调解 on the scene page (/scene): once both drivers signed the electronic accident finding, each driver asks
// for mediation of the compensation at an open mediation organisation (the public /apply page's list); the other
// driver sees the choice and agrees by asking at the same one. When both asked, the report is a case (已转调解):
// the button opens this driver's join page with a join link issued to their scene link only.
const $ = (id) => document.getElementById(id);

let loaded = false;

async function call(method, path, token, body) {
  const res = await fetch(path, {
    method,
    headers: { ...(token ? { Authorization: "Bearer " + token } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const out = await res.json().catch(() => null);
  if (!res.ok) throw out || { code: "error" };
  return out;
}

async function loadOrganisations() {
  const { organisations } = await call("GET", "/api/v1/public/mediation-organisations");
  const select = $("mediation-org");
  select.replaceChildren(new Option("请选择 Choose", ""));
  for (const o of organisations) select.append(new Option(o.region ? `${o.name}（${o.region}）` : o.name, o.id));
  loaded = true;
}

// Show the mediation part of ``report`` (the driver's view); ``ctx``: {reportId, token, say, problemText, update}.
export function renderMediation(report, ctx) {
  const m = report.mediation;
  const box = $("mediation");
  box.hidden = !m || (!m.may_ask && !m.case && report.state !== "mediation");
  if (box.hidden) return;
  if (m.may_ask && !loaded) loadOrganisations().catch((p) => ctx.say(ctx.problemText(p)));
  const mine = m.asked.find((a) => a.driver === report.driver);
  const theirs = m.asked.find((a) => a.driver !== report.driver);
  const lines = [];
  if (mine) lines.push(`您已申请：${mine.organisation.name} You asked for mediation there.`);
  if (theirs) lines.push(`对方司机申请：${theirs.organisation.name} The other driver asked for mediation there.`);
  if (!mine && !theirs) lines.push("双方均可申请由调解组织调解赔偿事宜。 Either driver may ask a mediation organisation to mediate the compensation.");
  if (mine && !theirs) lines.push("等待对方司机同意。 Waiting for the other driver to agree.");
  $("mediation-asked").textContent = lines.join(" ");
  const select = $("mediation-org");
  if (theirs && !select.value && [...select.options].some((o) => o.value === theirs.organisation.id)) select.value = theirs.organisation.id;
  $("mediation-choose").hidden = !m.may_ask;
  $("mediation-ask").hidden = !m.may_ask;
  $("mediation-case").hidden = !m.case;
  $("mediation-open").hidden = !m.case;
  if (m.case) $("mediation-case").textContent = `已转调解：案件 ${m.case.number}（${m.case.title}） The report became case ${m.case.number}.`;
  else if (report.state === "mediation") $("mediation-case").textContent = "正在立案… Filing the case…";
}

export function mountMediation(ctx) {
  $("mediation-ask").addEventListener("click", async () => {
    const organisation = $("mediation-org").value;
    if (!organisation) { ctx.say("请选择调解组织。 Choose a mediation organisation."); return; }
    try {
      const report = await call("POST", `/api/v1/scene-reports/${ctx.reportId}/mediation`, ctx.token, { organisation_id: organisation });
      ctx.say("");
      ctx.update(report);
    } catch (p) { ctx.say(ctx.problemText(p)); }
  });
  $("mediation-open").addEventListener("click", async () => {
    try {
      const link = await call("POST", `/api/v1/scene-reports/${ctx.reportId}/case-link`, ctx.token);
      location.assign(link.url);
    } catch (p) { ctx.say(ctx.problemText(p)); }
  });
}
