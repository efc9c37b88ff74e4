// 送达地址确认书: at intake the party confirms where the case's documents reach them (the join page runs
// this by itself when it has the form), reads the notice the server sends, and gets the sealed PDF; the
// mediator's console marks each party's address confirmed or not (markAddresses).
import { takeLinkToken } from "/static/link.js";
import { ERRORS } from "/static/words.js";

const $ = (id) => document.getElementById(id);
const when = (iso) => new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });

async function call(token, method, path, body) {
  const headers = { Authorization: "Bearer " + token };
  if (body) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw data;
  return data;
}

const boxes = () => [...document.querySelectorAll("#address-form input[name='address-channel']")];
const electronic = () => document.querySelector("#address-form input[name='electronic']:checked").value === "yes";

// Channels are picked only with electronic service accepted.
function syncChannels() {
  for (const box of boxes()) {
    box.disabled = !electronic();
    if (box.disabled) box.checked = false;
  }
}

// The form as last confirmed, or else from what the mediator entered.
function fill(mine) {
  const entered = mine.entered || {};
  $("address-phone").value = (mine.confirmed ? mine.phone : entered.phone) || "";
  $("address-email").value = (mine.confirmed ? mine.email : entered.email) || "";
  $("address-postal").value = mine.postal_address || "";
  $("address-recipient").value = mine.postal_recipient || "";
  const accepts = !mine.confirmed || mine.electronic;
  for (const radio of document.querySelectorAll("#address-form input[name='electronic']")) radio.checked = (radio.value === "yes") === accepts;
  for (const box of boxes()) {
    box.checked = mine.confirmed ? mine.channels.includes(box.value) : (box.value === "sms" ? Boolean(entered.phone) : box.value === "email" ? Boolean(entered.email) : true);
  }
  syncChannels();
}

// What the server would refuse across fields, said in Chinese first before anything is sent.
function problemWith(body) {
  if (body.electronic && !body.channels.length) return "请至少选择一种电子送达方式。 Pick at least one channel.";
  if (body.channels.includes("sms") && !body.phone) return "短信送达需要手机号码。 SMS needs a mobile number.";
  if (body.channels.includes("email") && !body.email) return "邮件送达需要电子邮箱。 E-mail needs an address.";
  if (!body.electronic && !body.postal_address) return "不同意电子送达的，请填写邮寄地址。 Without electronic service, give a postal address.";
  if (body.postal_recipient && !body.postal_address) return "请填写邮寄地址。 Give the postal address too.";
  return "";
}

async function showDone(token, base, mine) {
  $("address-when").textContent = `已确认 Confirmed · ${when(mine.confirmed_at)}`;
  // the PDF with this link's token: a plain href would carry none
  const res = await fetch(`${base}/service-addresses/${encodeURIComponent(mine.participant_id)}/document`, {
    headers: { Authorization: "Bearer " + token },
  });
  const link = $("address-pdf");
  if (res.ok) {
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(await res.blob());
    link.download = "service-address.pdf";
    link.hidden = false;
  }
  $("address-form").hidden = true;
  $("address-done").hidden = false;
}

/** The join page's 送达地址确认书: shown to a party from the moment they open their link. */
export async function confirmAtIntake(token) {
  if (!token) return;
  let me, state;
  try {
    me = await call(token, "GET", "/api/v1/me");
    state = await call(token, "GET", `/api/v1/cases/${encodeURIComponent(me.case_id)}/service-addresses`);
  } catch { return; }  // an observer, or a link that does not open (the page says so)
  const base = `/api/v1/cases/${encodeURIComponent(me.case_id)}`;
  const mine = state.addresses.find((a) => a.participant_id === me.participant_id);
  if (!mine) return;
  $("address-notice").replaceChildren(...state.notice.map((line) => {
    const li = document.createElement("li");
    li.textContent = line;
    return li;
  }));
  $("address-ack-text").textContent = state.acknowledgement;
  fill(mine);
  for (const radio of document.querySelectorAll("#address-form input[name='electronic']")) radio.addEventListener("change", syncChannels);
  $("address-change").onclick = () => {
    $("address-done").hidden = true;
    $("address-form").hidden = false;
    $("address-ack").checked = false;
    $("address-status").textContent = "";
  };
  $("address-form").onsubmit = async (e) => {
    e.preventDefault();
    const text = (id) => $(id).value.trim() || null;
    const body = {
      phone: text("address-phone"),
      email: text("address-email"),
      postal_address: text("address-postal"),
      postal_recipient: text("address-recipient"),
      electronic: electronic(),
      channels: boxes().filter((b) => b.checked).map((b) => b.value),
      acknowledged: $("address-ack").checked,
    };
    const problem = problemWith(body);
    if (problem) { $("address-status").textContent = problem; return; }
    try {
      const done = await call(token, "PUT", `${base}/service-address`, body);
      $("address-status").textContent = "";
      fill(done);
      await showDone(token, base, done);
    } catch (err) {
      $("address-status").textContent = (err && ERRORS[err.code]) || "未能确认，请重试。 Not confirmed: please try again.";
    }
  };
  if (mine.confirmed) await showDone(token, base, mine);
  $("service-address").hidden = false;
}

/** The console's list of people: each party's row says whether their address for service is confirmed. */
export async function markAddresses(base, token) {
  let state;
  try { state = await call(token, "GET", `${base}/service-addresses`); } catch { return; }
  for (const a of state.addresses) {
    const row = document.querySelector(`#people-rows tr[data-participant-id="${CSS.escape(a.participant_id)}"]`);
    if (!row || !row.cells[2]) continue;
    const old = row.querySelector(".address-state");
    if (old) old.remove();
    const mark = document.createElement("span");
    mark.className = "address-state" + (a.confirmed ? " done" : "");
    mark.dataset.confirmed = String(a.confirmed);
    mark.textContent = a.confirmed ? ` · 送达地址已确认 ${when(a.confirmed_at)}` : " · 送达地址未确认 address not confirmed";
    row.cells[2].append(mark);
  }
}

if ($("address-form")) confirmAtIntake(takeLinkToken());
