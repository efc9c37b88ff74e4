// Signing the agreement on a phone: read every page, draw the mark, prove the phone (or e-mail)
// with a one-time code, sign. Parties come with their link (#token=…); the mediator comes from
// the console (#case=…, the console's login in this tab) and confirms with their password.
import { T, ERRORS } from "/static/call.js";
import { blobUrl as readerBlobUrl, showPages as showDocumentPages } from "/static/reader.js";
import { linkApi, takeLinkToken } from "/static/link.js";
import { Pad } from "/static/pad.js";

const $ = (id) => document.getElementById(id);
const show = (id, on = true) => { $(id).hidden = !on; };
let caseId = new URLSearchParams(window.location.hash.slice(1)).get("case");
// a party's link token (then out of the address bar), or the console's login for the mediator (#case=…)
const linked = takeLinkToken();
const token = caseId ? sessionStorage.getItem("mediation-token") || linked : linked;
let base = "";

const MESSAGES = {
  ...ERRORS,
  too_many_attempts: "尝试次数过多或发送过于频繁，请稍后再试。Too many tries: wait a little.",
  service_unavailable: "服务暂时不可用，请稍后重试。The service is busy: try again shortly.",
  invalid_command: "暂时无法签署。This cannot be signed right now.",
};

function status(text) { $("status").textContent = text; }
function problemText(err) { return MESSAGES[err && err.code] || (err && err.detail) || "出现问题，请重试。Something went wrong."; }
function beijing(iso) { return new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }); }

const api = linkApi(token);

function blobUrl(path) { return readerBlobUrl(path, token); }

// ---------------------------------------------------------------- the reader

let readerFor = "";

async function showPages(documentId, onLastSeen) {
  if (readerFor === documentId) return;
  readerFor = documentId;
  const doc = `${base}/documents/${encodeURIComponent(documentId)}`;
  await showDocumentPages($("pages"), token, `${doc}/pages`, (n, width) => `${doc}/pages/${n}?width=${width}`, onLastSeen);
  $("download").onclick = async () => {
    const link = document.createElement("a");
    link.href = await blobUrl(doc);
    link.download = "agreement.pdf";
    link.click();
  };
  show("reader");
}

// ---------------------------------------------------------------- the page

function renderSigners(st) {
  const list = $("signers");
  list.replaceChildren();
  for (const s of st.signers) {
    const li = document.createElement("li");
    li.dataset.participant = s.participant_id;
    li.className = s.signed_at ? "signed" : "pending";
    li.textContent = `${s.name}（${T[s.role] || s.role}）` + (s.signed_at ? ` ✓ ${beijing(s.signed_at)}` : " · 待签署 not yet");
    list.append(li);
  }
  $("deadline").textContent = beijing(st.deadline);
}

async function showDone(st) {
  show("sign-form", false);
  const all = st.signers.every((s) => s.signed_at);
  $("done-text").textContent = all
    ? "全部签署完成，协议已生效。Everyone has signed: the agreement is in effect."
    : (st.you.signed ? "您已完成签署，等待其他签署人。You have signed; waiting for the others." : "您不是本协议的签署人。You are not a signer of this agreement.");
  const signed = $("signed-pdf");
  signed.href = await blobUrl(`${base}/documents/${encodeURIComponent(st.document.id)}`);
  signed.download = "agreement-signed.pdf";
  show("signed-pdf", st.you.signed || all);
  if (st.certificate) {
    const cert = $("certificate");
    cert.href = await blobUrl(`${base}/documents/${encodeURIComponent(st.certificate.id)}`);
    cert.download = "certificate.pdf";
    show("certificate");
  }
  show("done");
  if (!all || !st.certificate) setTimeout(refresh, 15000);  // the others' signatures appear as they come
}

async function refresh() {
  const st = await api("GET", `${base}/signing`);
  renderSigners(st);
  if (st.you.signed || !st.you.signer || st.state !== "signing") await showDone(st);
  return st;
}

async function main() {
  if (!token) { status("链接不完整。Your link is incomplete."); return; }
  let st;
  try {
    if (!caseId) caseId = (await api("GET", "/api/v1/me")).case_id;
    base = `/api/v1/cases/${encodeURIComponent(caseId)}`;
    const c = await api("GET", base);
    $("case-number").textContent = c.number;
    const me = c.participants.find((p) => p.id === c.your_participant_id);
    $("me").textContent = me ? `${me.display_name}（${T[me.role] || me.role}）` : "";
    st = await api("GET", `${base}/signing`);
  } catch (err) {
    status(err && err.code === "not_found" ? "协议尚未开始签署。Signing has not started yet." : problemText(err));
    return;
  }
  status("请阅读协议全文后签名。Read the whole agreement, then sign.");
  show("summary");
  renderSigners(st);
  const pad = new Pad($("pad"));
  // the box can be ticked once the last page has been on screen
  await showPages(st.document.id, () => { $("read-all").disabled = false; });
  if (st.you.signed || !st.you.signer || st.state !== "signing") { await showDone(st); return; }

  show(st.you.verify_with === "password" ? "by-password" : "by-code");
  show("sign-form");
  $("clear").addEventListener("click", () => pad.clear());

  let wait = null;
  $("send-code").addEventListener("click", async () => {
    $("sign-error").textContent = "";
    try {
      const sent = await api("POST", `${base}/signing/code`);
      $("code-sent").textContent = `验证码已发送至 ${sent.to}，5 分钟内有效。The code was sent to ${sent.to}.`;
      let left = 60;
      $("send-code").disabled = true;
      clearInterval(wait);
      wait = setInterval(() => {
        left -= 1;
        $("send-code").textContent = left > 0 ? `重新获取 (${left}s)` : "重新获取验证码 Send again";
        if (left <= 0) { clearInterval(wait); $("send-code").disabled = false; }
      }, 1000);
      $("code").focus();
    } catch (err) { $("sign-error").textContent = problemText(err); }
  });

  $("sign-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = (text) => { $("sign-error").textContent = text; };
    if (!$("read-all").checked) return error("请先阅读协议全文并勾选确认。Read the agreement and tick the box first.");
    if (!pad.signed) return error("请在签名框内手写签名。Sign in the box first.");
    const body = { mark_png: pad.png() };
    if (st.you.verify_with === "password") {
      body.password = $("password").value;
      if (!body.password) return error("请输入登录密码。Enter your password.");
    } else {
      body.code = $("code").value.trim();
      if (!/^[0-9]{6}$/.test(body.code)) return error("请输入 6 位验证码。Enter the 6-digit code.");
    }
    $("sign").disabled = true;
    status("正在签署… Signing…");
    try {
      await api("POST", `${base}/signing/sign`, body);
      status("签署成功。Signed.");
      await refresh();
    } catch (err) {
      status("请阅读协议全文后签名。Read the whole agreement, then sign.");
      error(problemText(err));
    } finally {
      $("sign").disabled = false;
    }
  });
}

main();
