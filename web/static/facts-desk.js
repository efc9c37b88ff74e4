// The mediator's part of a failing mediation (调解不成转诉讼), in the console's case progress:
// draft the record of undisputed facts (无争议事实记载) row by row, see each party's answer,
// and end the mediation as failed with a reason (asked twice); then the sealed record's PDF.
import { ERRORS, stateName } from "/static/words.js";

const $ = (id) => document.getElementById(id);
const KINDS = { fact: "无争议事实 Undisputed fact", dispute: "争议事项 Disputed point" };
const ANSWERS = { confirm: "已确认 Confirmed", object: "有异议 Objected" };
const when = (iso) => (iso ? new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) : "");

let current = null;  // the case shown: { base, token }

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + current.token },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw data;
  return data;
}

const note = (text) => { $("facts-status").textContent = text || ""; };
const problem = (err, fallback) => note(ERRORS[err && err.code] || (err && err.detail) || fallback);

function addRow(kind = "fact", text = "") {
  const li = document.createElement("li");
  li.className = "facts-item";
  const select = document.createElement("select");
  select.className = "facts-kind";
  select.setAttribute("aria-label", "类别 Kind");
  for (const [value, label] of Object.entries(KINDS)) {
    const o = document.createElement("option"); o.value = value; o.textContent = label; select.append(o);
  }
  select.value = kind;
  const area = document.createElement("textarea");
  area.className = "facts-text"; area.maxLength = 500; area.rows = 2; area.required = true; area.value = text;
  area.setAttribute("aria-label", "内容 Text");
  const remove = document.createElement("button");
  remove.type = "button"; remove.className = "facts-remove"; remove.textContent = "删除 Remove";
  remove.addEventListener("click", () => li.remove());
  li.append(select, area, remove);
  $("facts-items").append(li);
  return li;
}

function renderAnswers(view) {
  $("facts-answers").replaceChildren(...view.answers.map((a) => {
    const li = document.createElement("li");
    li.dataset.participantId = a.participant_id;
    li.dataset.answer = a.answer || "none";
    li.textContent = `${a.name}（${a.role_name}）：` + (a.answer
      ? `${ANSWERS[a.answer]} ${when(a.at)}${a.note ? " · " + a.note : ""}`
      : "尚未答复 Not answered yet");
    if (a.answer === "object") li.className = "warn";
    return li;
  }));
}

async function showDocument(view) {
  const out = $("facts-outcome");
  out.replaceChildren();
  if (!view.document) return;
  const state = document.createElement("p");
  state.className = "facts-failed";
  state.textContent = `${stateName(view.state)} · 已生成无争议事实记载，随案移送法院。 The record goes to the court with the case.`;
  const res = await fetch(`${current.base}/documents/${encodeURIComponent(view.document.id)}`, { headers: { Authorization: "Bearer " + current.token } });
  const link = document.createElement("a");
  link.id = "facts-pdf";
  link.textContent = "无争议事实记载（PDF） Record of undisputed facts";
  if (res.ok) { link.href = URL.createObjectURL(await res.blob()); link.download = "undisputed-facts.pdf"; }
  out.append(state, link);
}

function render(view) {
  const record = view.record;
  $("facts-version").textContent = record
    ? `第 ${record.version} 稿 Version ${record.version} · ${when(record.drafted_at)}`
    : "尚未拟定。 Not drafted yet.";
  $("facts-items").replaceChildren();
  for (const item of record ? record.items : []) addRow(item.kind, item.text);
  if (!record && view.open) addRow("fact");
  // once the mediation has ended the record is read, no longer drafted
  $("facts-list").replaceChildren(...(record && !view.open ? record.items : []).map((item) => {
    const li = document.createElement("li");
    li.dataset.kind = item.kind;
    li.textContent = `${KINDS[item.kind].split(" ")[0]}：${item.text}`;
    return li;
  }));
  $("facts-list").hidden = view.open;
  renderAnswers(view);
  $("facts-form").hidden = !view.open;
  $("facts-fail").hidden = !view.open;
  $("facts-fail-confirm").hidden = true;
  $("facts-fail-ask").hidden = false;
  return showDocument(view);
}

/** Show the part for one case (the console calls it whenever it opens a case's progress). */
export async function showFacts(caseId) {
  const token = sessionStorage.getItem("mediation-token");
  current = { base: `/api/v1/cases/${encodeURIComponent(caseId)}`, token };
  const section = $("facts-desk");
  section.hidden = true;
  note("");
  let view;
  try { view = await api("GET", `${current.base}/facts`); } catch { return; }
  if (!view.open && !view.record && !view.document) return;  // settled cases have nothing to show here
  await render(view);
  section.hidden = false;
}

$("facts-add-fact").addEventListener("click", () => addRow("fact").querySelector("textarea").focus());
$("facts-add-dispute").addEventListener("click", () => addRow("dispute").querySelector("textarea").focus());

$("facts-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const items = [...document.querySelectorAll("#facts-items .facts-item")]
    .map((li) => ({ kind: li.querySelector(".facts-kind").value, text: li.querySelector(".facts-text").value.trim() }))
    .filter((i) => i.text);
  if (!items.length) { note("请至少填写一项。 Enter at least one item."); return; }
  try {
    const view = await api("PUT", `${current.base}/facts`, { items });
    await render(view);
    note(`已保存第 ${view.record.version} 稿，请各方当事人在线确认。 Saved: the parties confirm online.`);
  } catch (err) { problem(err, "未能保存。 Not saved."); }
});

// ending the mediation as failed is asked twice: the button, then an explicit confirmation
$("facts-fail-ask").addEventListener("click", () => {
  if (!$("facts-reason").value.trim()) { note("请填写调解不成的原因。 Give the reason."); $("facts-reason").focus(); return; }
  const silent = [...document.querySelectorAll("#facts-answers li[data-answer='none']")].length;
  $("facts-fail-warning").textContent = silent ? `尚有 ${silent} 方未答复，记载将注明。 ${silent} not answered: the record says so.` : "";
  $("facts-fail-ask").hidden = true;
  $("facts-fail-confirm").hidden = false;
});
$("facts-fail-no").addEventListener("click", () => { $("facts-fail-confirm").hidden = true; $("facts-fail-ask").hidden = false; });
$("facts-fail").addEventListener("submit", async (e) => {
  e.preventDefault();
  const button = $("facts-fail-yes");
  button.disabled = true;
  try {
    await api("POST", `${current.base}/failure`, { reason: $("facts-reason").value.trim() });
    await render(await api("GET", `${current.base}/facts`));
    const line = $("progress-state");
    if (line) line.textContent = `状态 State: ${stateName("mediation_failed")}`;
    note("调解已终结，案件转入诉讼。 Mediation ended as failed; the case goes to the court.");
  } catch (err) { problem(err, "未能完成。 Not done."); }
  button.disabled = false;
});
