// A party's part of the mediation period, on their join page: when the mediator asked to extend it and
// this party has not answered, "调解员申请延长调解期限N日，理由：…" and a 同意延期 button; then 已同意.
import { ERRORS } from "/static/words.js";

const $ = (id) => document.getElementById(id);
const when = (iso) => new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });

/** Show the pending extension to the party whose link this page opened (join.js calls it once the case is known). */
export async function showPeriodNotice(caseId, token) {
  const base = `/api/v1/cases/${encodeURIComponent(caseId)}`;
  const say = (text) => { $("period-party-status").textContent = text || ""; };
  let c;
  try {
    const res = await fetch(base, { headers: { Authorization: "Bearer " + token } });
    if (!res.ok) return;
    c = await res.json();
  } catch { return; }
  const x = c.period && c.period.extension;
  const me = c.participants.find((p) => p.id === c.your_participant_id);
  // an agent's consent counts for the party they act for
  const party = me && me.role === "agent" && me.represents ? me.represents : c.your_participant_id;
  if (!x || !x.parties.includes(party)) {
    $("period-party").hidden = true;
    return;
  }
  $("period-party-text").textContent = `调解员申请延长调解期限${x.days}日，理由：${x.reason}`;
  $("period-party-deadline").textContent = `目前期限 Current deadline：${when(c.period.deadline)}`;
  const agreed = x.consented.includes(party);
  $("period-party-consent").hidden = agreed;
  $("period-party-done").hidden = !agreed;
  $("period-party-consent").onclick = async () => {
    $("period-party-consent").disabled = true;
    const res = await fetch(`${base}/period/extension/consent`, { method: "POST", headers: { Authorization: "Bearer " + token } });
    const body = await res.json().catch(() => ({}));
    $("period-party-consent").disabled = false;
    if (!res.ok) { say(ERRORS[body.code] || body.detail || "未能提交。 Not sent."); return; }
    // the last party's consent extends the period at once: no request is pending any more
    $("period-party-consent").hidden = true;
    $("period-party-done").hidden = false;
    const after = body.period;
    if (after && !after.extension) {
      $("period-party-deadline").textContent = `各方均已同意，调解期限已延长至 ${when(after.deadline)}。 Every party agreed: the period is extended.`;
    }
  };
  $("period-party").hidden = false;
}
