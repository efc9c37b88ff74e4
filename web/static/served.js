// A recipient's personal link (/served#token=…): the one document served on them, to read and download.
// Opening the page and downloading are recorded as part of the proof of service.
import { authorised, showPages } from "/static/reader.js";
import { SERVED, takeLinkToken } from "/static/link.js";

const $ = (id) => document.getElementById(id);
const token = takeLinkToken(SERVED);  // from the link's #token=…, then out of the address bar (kept in this tab)
const MESSAGES = {
  token_expired: "链接已过期，请联系调解员。This link has expired; ask your mediator.",
  token_revoked: "链接已失效。This link is no longer valid.",
  unauthenticated: "无法打开此链接。This link cannot be opened.",
};

async function main() {
  if (!token) { $("status").textContent = "链接不完整。Your link is incomplete."; return; }
  let served;
  try {
    served = await (await authorised("/api/v1/served", token)).json();
  } catch (err) {
    $("status").textContent = MESSAGES[err && err.code] || "无法打开此链接。This link cannot be opened.";
    return;
  }
  $("case-number").textContent = served.case_number;
  $("case-title").textContent = served.case_title;
  $("title").textContent = served.title;
  $("served-at").textContent = new Date(served.served_at).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
  $("sha256").textContent = served.document.sha256;
  $("status").textContent = "请查阅送达给您的文书。Please read the document served on you.";
  $("served").hidden = false;
  $("download").addEventListener("click", async () => {
    const res = await authorised("/api/v1/served/document?download=true", token);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await res.blob());
    link.download = served.document.media_type === "application/pdf" ? "document.pdf" : "document";
    link.click();
    $("status").textContent = "已下载。Downloaded.";
  });
  try {
    await showPages($("pages"), token, "/api/v1/served/pages", (n, width) => `/api/v1/served/pages/${n}?width=${width}`);
  } catch {
    $("pages").textContent = "此文书请下载后查看。 Download this document to read it.";  // not a document the platform drew
  }
}

main();
