// A party's part of a failing mediation, on their join page: the record of undisputed facts
// (无争议事实记载) as the mediator drafted it, and the party's answer: confirm, or object with a note.
import { ERRORS } from "/static/words.js";

const $ = (id) => document.getElementById(id);
const when = (iso) => new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
const ANSWERS = { confirm: "您已确认本记载", object: "您已对本记载提出异议" };

function list(id, texts) {
  $(id).replaceChildren(...(texts.length ? texts : ["（无） None"]).map((text) => {
    const li = document.createElement("li"); li.textContent = text; return li;
  }));
}

/** Show the record to the party whose link this page opened (join.js calls it once the case is known). */
export async function showPartyFacts(caseId, token) {
  const base = `/api/v1/cases/${encodeURIComponent(caseId)}/facts`;
  const say = (text) => { $("facts-party-status").textContent = text || ""; };
  let view;
  try {
    const res = await fetch(base, { headers: { Authorization: "Bearer " + token } });
    if (!res.ok) return;  // an observer, or nothing for this link
    view = await res.json();
  } catch { return; }
  const record = view.record;
  if (!record) { $("facts-party").hidden = true; return; }
  $("facts-party-version").textContent = `第 ${record.version} 稿 Version ${record.version} · ${when(record.drafted_at)}`;
  list("facts-party-facts", record.items.filter((i) => i.kind === "fact").map((i) => i.text));
  list("facts-party-disputes", record.items.filter((i) => i.kind === "dispute").map((i) => i.text));
  const mine = view.answers[0];
  $("facts-party-mine").textContent = mine && mine.answer
    ? `${ANSWERS[mine.answer]}（${when(mine.at)}）${mine.note ? "：" + mine.note : ""}。 ${mine.answer === "confirm" ? "Confirmed." : "Objected."}`
    : "请核对后确认或提出异议。 Please check it, then confirm or object.";
  $("facts-party-mine").dataset.answer = (mine && mine.answer) || "none";
  $("facts-party-form").hidden = !view.open || !mine;
  if (!view.open) say(view.state === "mediation_failed" ? "调解不成，本记载已随案移送法院。 Mediation failed: the record went to the court." : "");

  const send = async (answer) => {
    const noteText = $("facts-party-note").value.trim();
    if (answer === "object" && !noteText) { say("提出异议时请写明理由。 Say what is wrong."); $("facts-party-note").focus(); return; }
    const res = await fetch(`${base}/${record.version}/answers`, {
      method: "POST",
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify({ answer, note: noteText }),
    });
    const body = await res.json().catch(() => ({}));
    if (res.ok) { $("facts-party-note").value = ""; await showPartyFacts(caseId, token); say("已提交。 Sent."); return; }
    if (body.code === "stale_record") { await showPartyFacts(caseId, token); say(ERRORS.stale_record); return; }
    say(ERRORS[body.code] || body.detail || "未能提交。 Not sent.");
  };
  $("facts-confirm").onclick = () => send("confirm");
  $("facts-object").onclick = () => send("object");
  $("facts-party").hidden = false;
}
