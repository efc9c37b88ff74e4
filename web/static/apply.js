// A party applies to a mediation organisation themselves (/apply, a phone, no account): choose the
// organisation (filtered by region), describe the dispute, name both parties, prove the mobile with a
// code by SMS; the answer is the applicant's personal join link, which this page then opens.
import { DISPUTES, ERRORS } from "/static/words.js";

const $ = (id) => document.getElementById(id);
const MOBILE = /^1[3-9][0-9]{9}$/;
const CODE = /^[0-9]{6}$/;

// the refusals of these operations (server.referrals.applications), Chinese first
const REFUSALS = {
  code_missing: "请先获取验证码。 Ask for a code first.",
  code_expired: "验证码已失效，请重新获取。 The code is no longer valid: ask for a new one.",
  code_void: "验证码错误次数过多，已失效，请重新获取。 Too many wrong codes: ask for a new one.",
  wrong_code: "验证码不正确。 The code is wrong.",
  application_submitted: "该申请已提交，请勿重复提交。 This application was already sent.",
  too_many_codes: "获取验证码过于频繁。 Too many codes asked for.",
  invalid_command: "请选择一个正在受理案件的调解组织。 Choose an organisation that is open.",
  validation_failed: "请检查填写的内容。 Please check what you entered.",
  payload_too_large: "填写的内容过长。 What you entered is too long.",
  service_unavailable: "短信暂时无法发送，请稍后再试。 The text message cannot be sent now; try later.",
};

function say(text) { $("status").textContent = text; }

function refusal(problem, response) {
  const code = problem && problem.code;
  let text = REFUSALS[code] || ERRORS[code] || "出现问题，请稍后再试。 Something went wrong; try again later.";
  if (code === "wrong_code") {
    const left = /\((\d+) tries left\)/.exec(problem.detail || "");
    if (left) text = `验证码不正确，还可尝试 ${left[1]} 次。 The code is wrong: ${left[1]} tries left.`;
  }
  const wait = Number(response && response.headers.get("Retry-After"));
  if (code === "too_many_codes" && wait > 0) text += ` 请 ${waitText(wait)} 后再试。 Try again in ${waitText(wait)}.`;
  return text;
}

function waitText(seconds) {
  if (seconds < 120) return `${seconds} 秒`;
  if (seconds < 7200) return `${Math.ceil(seconds / 60)} 分钟`;
  return `${Math.ceil(seconds / 3600)} 小时`;
}

async function post(path, body) {
  const res = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  let out = null;
  try { out = await res.json(); } catch { out = null; }
  return { res, out };
}

// ------------------------------------------------------------------ step 1: the organisation

let lastRegion = null;
async function loadOrganisations() {
  const region = $("region").value.trim();
  if (region === lastRegion) return;
  lastRegion = region;
  const res = await fetch("/api/v1/public/mediation-organisations?region=" + encodeURIComponent(region));
  if (!res.ok) { say(refusal(await res.json().catch(() => null), res)); return; }
  const { organisations } = await res.json();
  if (region !== $("region").value.trim()) return;  // a newer filter is on its way
  const select = $("organisation");
  const chosen = select.value;
  select.replaceChildren(new Option("请选择调解组织 Choose an organisation", ""));
  for (const o of organisations) {
    const label = `${o.name}（${o.kind_name}${o.region ? "，" + o.region : ""}）`;
    const option = new Option(label, o.id);
    option.dataset.name = o.name;
    select.append(option);
  }
  if (organisations.some((o) => o.id === chosen)) select.value = chosen;
  $("organisations-empty").hidden = organisations.length > 0;
}

let regionTimer = 0;
$("region").addEventListener("input", () => { clearTimeout(regionTimer); regionTimer = setTimeout(loadOrganisations, 300); });

// ------------------------------------------------------------------ step 2: the dispute

const kinds = $("kind");
for (const [value, label] of Object.entries(DISPUTES)) kinds.append(new Option(label, value));  // traffic first
kinds.value = "traffic_accident";
$("description").addEventListener("input", () => { $("description-count").textContent = String([...$("description").value].length); });

// ------------------------------------------------------------------ checks before sending

function mark(id, bad) { $(id).setAttribute("aria-invalid", String(bad)); return bad; }

function checkPhone() {
  return !mark("applicant-phone", !MOBILE.test($("applicant-phone").value.trim()));
}

function checkForm(withCode) {
  const bad = [];
  if (mark("organisation", !$("organisation").value)) bad.push("请选择调解组织 Choose an organisation");
  const description = $("description").value.trim();
  if (mark("description", !description || [...description].length > 500)) bad.push("请简要描述纠纷 Describe the dispute");
  if (mark("applicant-name", !$("applicant-name").value.trim())) bad.push("请填写您的姓名 Your name");
  if (!checkPhone()) bad.push("请填写正确的手机号 A mainland mobile number");
  if (mark("respondent-name", !$("respondent-name").value.trim())) bad.push("请填写对方姓名 The other party's name");
  const other = $("respondent-phone").value.trim();
  if (mark("respondent-phone", Boolean(other) && !MOBILE.test(other))) bad.push("对方手机号不正确 Their mobile is not valid");
  if (withCode && mark("code", !CODE.test($("code").value.trim()))) bad.push("请输入 6 位验证码 Enter the 6-digit code");
  if (bad.length) say(bad.join("；"));
  return bad.length === 0;
}

// ------------------------------------------------------------------ step 4: the code, then the application

let countdown = 0;
function holdSendButton(seconds) {
  const button = $("send-code");
  clearInterval(countdown);
  let left = seconds;
  const tick = () => {
    if (left <= 0) { clearInterval(countdown); button.disabled = false; button.textContent = "重新获取验证码 Send a new code"; return; }
    button.disabled = true;
    button.textContent = `${left} 秒后可重新获取 New code in ${left}s`;
    left -= 1;
  };
  tick();
  countdown = setInterval(tick, 1000);
}

$("send-code").addEventListener("click", async () => {
  if (mark("organisation", !$("organisation").value)) { say("请先选择调解组织。 Choose an organisation first."); return; }
  if (!checkPhone()) { say("请填写正确的手机号。 Enter a mainland mobile number."); return; }
  $("send-code").disabled = true;
  say("正在发送… Sending…");
  const { res, out } = await post("/api/v1/public/applications/code", {
    organisation_id: $("organisation").value, phone: $("applicant-phone").value.trim(),
  });
  if (res.status === 201) {
    const until = new Date(out.expires_at).toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" });
    $("code-sent").textContent = `验证码已发送至 ${out.to}，${until} 前有效。 A code was sent to ${out.to}.`;
    $("code-sent").hidden = false;
    say("");
    holdSendButton(out.resend_after_seconds || 60);
    $("code").focus();
    return;
  }
  $("send-code").disabled = false;
  say(refusal(out, res));
  const wait = Number(res.headers.get("Retry-After"));
  if (res.status === 429 && wait > 0 && wait <= 120) holdSendButton(wait);
});

let submitting = false;
$("apply-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (submitting || !checkForm(true)) return;
  submitting = true;
  $("submit").disabled = true;
  say("正在提交… Sending your application…");
  const other = $("respondent-phone").value.trim();
  const { res, out } = await post("/api/v1/public/applications", {
    organisation_id: $("organisation").value,
    kind: $("kind").value,
    description: $("description").value.trim(),
    applicant: { display_name: $("applicant-name").value.trim(), phone: $("applicant-phone").value.trim() },
    respondent: other ? { display_name: $("respondent-name").value.trim(), phone: other } : { display_name: $("respondent-name").value.trim() },
    code: $("code").value.trim(),
  });
  if (res.status !== 201) {
    submitting = false;
    $("submit").disabled = false;
    say(refusal(out, res));
    return;
  }
  // the personal link: opened here, on this origin (the token stays in the fragment, never sent to a server)
  const link = new URL(out.join_url, window.location.href);
  const here = link.pathname + link.hash;
  $("apply-form").hidden = true;
  $("applied-text").textContent = `案件 ${out.case.number} 已提交${out.case.organisation.name}，等待分派调解员。 Case ${out.case.number} awaits a mediator.`;
  $("join-link").href = here;
  $("applied").hidden = false;
  say("");
  window.location.assign(here);
});

loadOrganisations();
