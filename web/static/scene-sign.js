// The electronic accident finding (电子事故认定书) on a phone or the police desk.
//
//   mountFindingSigning(container, reportId, token)                    a driver (their scene link's token):
//       read the finding (PDF), draw the mark, get a code by SMS, sign; then see the other driver's signature
//   mountFindingSigning(container, reportId, token, { officer: true }) an officer (their login's token):
//       who has signed when, and the PDF
//
// It builds its own elements inside `container` (no inline scripts: the CSP forbids them), polls the status
// every 15 s until both drivers have signed, and calls `onChange(status)` (if given) after every status.
import { ERRORS } from "/static/words.js";
import { blobUrl } from "/static/reader.js";
import { linkApi } from "/static/link.js";
import { Pad } from "/static/pad.js";

const MESSAGES = {
  ...ERRORS,
  too_many_attempts: "尝试次数过多或发送过于频繁，请稍后再试。Too many tries: wait a little.",
  service_unavailable: "服务暂时不可用，请稍后重试。The service is busy: try again shortly.",
  illegal_transition: "认定书当前不能签字（可能已签）。The finding cannot be signed now (already signed?).",
  not_found: "责任认定尚未作出。The liability finding has not been made yet.",
};

const problemText = (err) => MESSAGES[err && err.code] || (err && err.detail) || "出现问题，请重试。Something went wrong.";
const beijing = (iso) => new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

export async function mountFindingSigning(container, reportId, token, { officer = false, onChange = () => {} } = {}) {
  const id = encodeURIComponent(reportId);
  const base = officer ? `/api/v1/police/scene-reports/${id}/finding` : `/api/v1/scene-reports/${id}/finding`;
  const statusPath = officer ? `${base}/signing` : base;
  const api = linkApi(token);

  const note = el("p", { className: "finding-note", role: "status" });
  const drivers = el("ul", { className: "finding-drivers" });
  const pdf = el("a", { className: "finding-pdf", textContent: "查看认定书 (PDF) View the finding", href: "#" });
  pdf.hidden = true;
  const error = el("p", { className: "error", role: "alert" });
  const box = el("section", { className: "finding-signing" },
    el("h2", { textContent: "道路交通事故认定书 Accident finding" }), note, drivers, pdf);
  container.replaceChildren(box);

  let form = null;
  let timer = null;
  let pdfSha = "";
  const render = async (st) => {
    drivers.replaceChildren(...st.drivers.map((d) => el("li", {
      className: d.signed_at ? "signed" : "pending",
      textContent: `${d.label} ${d.name}` + (d.signed_at ? ` ✓ 已签字 signed ${beijing(d.signed_at)}` : " · 待签字 not yet"),
    })));
    const me = st.drivers.find((d) => d.number === st.you);
    note.textContent = st.complete
      ? "双方已签字，认定书已生效。Both drivers have signed."
      : (me && me.signed_at ? "您已签字，等待对方签字。You have signed; waiting for the other driver."
        : (officer ? "等待当事人签字。Waiting for the drivers' signatures." : "请阅读认定书，手写签名并输入短信验证码。Read, sign in the box and enter the SMS code."));
    if (pdfSha !== st.document.sha256) {  // fetched again only when a signature changed it (slow links)
      if (pdfSha) URL.revokeObjectURL(pdf.href);
      pdf.href = await blobUrl(`${base}/document`, token);
      pdfSha = st.document.sha256;
    }
    pdf.download = `accident-finding-${st.number}.pdf`;
    pdf.hidden = false;
    if (form) form.hidden = st.complete || !me || Boolean(me.signed_at);
    onChange(st);
    clearTimeout(timer);
    if (!st.complete) timer = setTimeout(refresh, 5000);  // the other signature appears within seconds (a small status; the PDF only on change)
  };
  const refresh = async () => {
    try { await render(await api("GET", statusPath)); } catch (err) { note.textContent = problemText(err); }
  };

  let st;
  try { st = await api("GET", statusPath); } catch (err) { note.textContent = problemText(err); return; }
  await render(st);  // the list and the link first: the pad below them does not move once shown
  if (!officer && st.you) {
    const canvas = el("canvas", { className: "finding-pad", width: 600, height: 240 });
    canvas.setAttribute("aria-label", "签名框 Signature box");
    // sized here (CSSOM, which the CSP allows): the pad fills the column of a 360 px phone and takes the finger
    Object.assign(canvas.style, { display: "block", width: "100%", height: "auto", aspectRatio: "5 / 2",
      touchAction: "none", border: "1px solid #9e9e9e", borderRadius: ".5rem", background: "#fff", boxSizing: "border-box" });
    const pad = new Pad(canvas);
    const code = el("input", { className: "finding-code", inputMode: "numeric", maxLength: 6, autocomplete: "one-time-code", placeholder: "6 位验证码 code" });
    const send = el("button", { type: "button", className: "finding-send", textContent: "获取验证码 Send code" });
    const clear = el("button", { type: "button", className: "finding-clear", textContent: "重写 Clear" });
    const sign = el("button", { type: "submit", className: "finding-sign", textContent: "确认签字 Sign" });
    const sent = el("p", { className: "finding-sent" });
    form = el("form", { className: "finding-form" },
      el("p", { textContent: "在框内手写签名 Sign in the box:" }), canvas, clear, sent,
      el("label", {}, "短信验证码 SMS code ", code), send, sign, error);
    Object.assign(form.style, { display: "flex", flexDirection: "column", gap: ".6rem" });
    for (const button of [send, sign, clear]) Object.assign(button.style, { minHeight: "2.75rem", fontSize: "1.05rem" });
    box.append(form);
    clear.addEventListener("click", () => pad.clear());
    send.addEventListener("click", async () => {
      error.textContent = "";
      try {
        const out = await api("POST", `${base}/code`);
        sent.textContent = `验证码已发送至 ${out.to}，5 分钟内有效。The code was sent to ${out.to}.`;
        send.disabled = true;
        setTimeout(() => { send.disabled = false; }, 60000);
        code.focus();
      } catch (err) { error.textContent = problemText(err); }
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.textContent = "";
      if (!pad.signed) { error.textContent = "请在签名框内手写签名。Sign in the box first."; return; }
      const value = code.value.trim();
      if (!/^[0-9]{6}$/.test(value)) { error.textContent = "请输入 6 位验证码。Enter the 6-digit code."; return; }
      sign.disabled = true;
      note.textContent = "正在签字… Signing…";
      try { await render(await api("POST", `${base}/signature`, { code: value, mark: pad.png() })); }
      catch (err) { error.textContent = problemText(err); await refresh(); }
      finally { sign.disabled = false; }
    });
    form.hidden = st.complete || Boolean(st.drivers.find((d) => d.number === st.you)?.signed_at);
  }
}
