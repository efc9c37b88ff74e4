// An organisation's administrator manages its accounts: create (the password is shown once), reset the
// password, disable, set the contacts for one-time codes. Reached from the console after logging in.
import { showOrgDesk } from "/static/referral-org.js";
import "/static/roster.js";  // the court's roster (特邀调解名册) and a mediation organisation's memberships
const $ = (id) => document.getElementById(id);
const show = (id, on = true) => { $(id).hidden = !on; };
const status = (text) => { $("status").textContent = text; };
const token = sessionStorage.getItem("mediation-token");

const KINDS = {
  mediator: "调解员 Mediator", judge: "法官 Judge", org_admin: "机构管理员 Administrator", clerk: "书记员 Clerk",
  police_officer: "交警 Police officer", claims_adjuster: "理赔员 Claims adjuster", appraiser: "鉴定人 Appraiser",
  fund_officer: "救助基金经办人 Fund officer", bureau_officer: "司法局工作人员 Bureau officer",
};
const ACTIONS = {
  "authorisation.revoked": "撤回理赔授权 authorisation withdrawn",
  "account.created": "创建账号 created",
  "account.disabled": "停用账号 disabled",
  "account.password_reset": "重置密码 password reset",
  "account.contacts_set": "修改联系方式 contacts changed",
};
const PROBLEMS = {
  duplicate: "用户名已被占用。The user name is taken.",
  invalid_command: "该机构不能设立此类账号，或此操作不被允许。This cannot be done here.",
  validation_failed: "请检查填写的内容。Please check what you entered.",
  forbidden: "只有本机构的管理员可以管理账号。Only this organisation's administrators manage its accounts.",
  not_found: "找不到该账号。No such account.",
};

let organisation = null;
let accounts = [];

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (!res.ok) throw data;
  return data;
}

function problem(err) {
  return PROBLEMS[err && err.code] || (err && err.detail) || "操作失败。Something went wrong.";
}

function showPassword(account, password) {
  $("password-for").textContent = `${account.display_name}（${account.username}）`;
  $("password-value").textContent = password;
  show("password-box");
}

function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }

function render(staff) {
  accounts = staff.accounts;
  const rows = $("account-rows");
  rows.replaceChildren();
  for (const a of accounts) {
    const tr = document.createElement("tr");
    tr.dataset.username = a.username;
    tr.append(cell(a.username), cell(a.display_name), cell(KINDS[a.kind] || a.kind_name),
      cell(a.disabled ? "已停用 disabled" : "正常 active"), cell([a.phone, a.email].filter(Boolean).join(" / ") || "—"));
    const td = document.createElement("td");
    if (!a.disabled) {
      const button = (label, cls, act) => {
        const b = document.createElement("button");
        b.textContent = label; b.className = cls;
        b.addEventListener("click", act);
        td.append(b);
      };
      button("重置密码 Reset password", "reset", async () => {
        if (!confirm(`重置 ${a.display_name} 的密码？其登录将立即失效。 Reset the password? Their logins end.`)) return;
        try { const r = await api("POST", `${base()}/${a.id}/password`); showPassword(r.account, r.password); status("密码已重置。Password reset."); load(); }
        catch (err) { status(problem(err)); }
      });
      button("联系方式 Contacts", "contacts", async () => {
        const phone = prompt("手机号（可留空） Mobile (may be empty)", a.phone || "");
        if (phone === null) return;
        const email = prompt("电子邮箱（可留空） E-mail (may be empty)", a.email || "");
        if (email === null) return;
        try { await api("PUT", `${base()}/${a.id}/contacts`, { phone: phone.trim() || null, email: email.trim() || null }); status("联系方式已更新。Contacts saved."); load(); }
        catch (err) { status(problem(err)); }
      });
      button("停用 Disable", "danger disable", async () => {
        if (!confirm(`停用 ${a.display_name} 的账号？其登录和通话将立即结束。 Disable the account? Their logins and calls end now.`)) return;
        try { await api("POST", `${base()}/${a.id}/disable`); status("账号已停用。Account disabled."); load(); }
        catch (err) { status(problem(err)); }
      });
    }
    tr.append(td);
    rows.append(tr);
  }
  const names = Object.fromEntries(accounts.map((a) => [a.id, a.display_name]));
  $("events").replaceChildren(...staff.events.map((e) => {
    const li = document.createElement("li");
    li.textContent = `${new Date(e.at).toLocaleString("zh-CN")} · ${ACTIONS[e.action] || e.action} · ${names[e.account_id] || ""}`;
    return li;
  }));
}

function base() { return `/api/v1/organisations/${encodeURIComponent(organisation.id)}/accounts`; }

async function loadFigures() {
  const { mediators } = await api("GET", `/api/v1/organisations/${encodeURIComponent(organisation.id)}/figures`);
  $("figure-rows").replaceChildren(...mediators.map((m) => {
    const tr = document.createElement("tr");
    tr.dataset.accountId = m.account_id;
    tr.append(cell(m.display_name), cell(String(m.cases)), cell(String(m.ratings)),
      cell(m.average_score === null ? "—" : m.average_score.toFixed(2)));
    return tr;
  }));
}

async function load() {
  try { render(await api("GET", base())); show("accounts"); await loadFigures(); }
  catch (err) { status(problem(err)); }
}

$("create").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = {
    username: $("new-username").value.trim(),
    display_name: $("new-name").value.trim(),
    kind: $("new-kind").value,
    phone: $("new-phone").value.trim() || null,
    email: $("new-email").value.trim() || null,
  };
  try {
    const r = await api("POST", base(), body);
    showPassword(r.account, r.password);
    status("账号已创建。Account created.");
    $("create").reset();
    load();
  } catch (err) { status(problem(err)); }
});

$("logout").addEventListener("click", async () => {
  await api("POST", "/api/v1/auth/logout").catch(() => {});
  sessionStorage.removeItem("mediation-token");
  location.href = "/console";
});

async function main() {
  if (!token) { show("need-login"); return; }
  let mine;
  try { mine = await api("GET", "/api/v1/organisations/mine"); }
  catch { show("need-login"); return; }
  organisation = mine.organisation;
  $("organisation").textContent = `${organisation.name} · ${organisation.kind_name} · ${mine.account_kind_name}`;
  if (!mine.may_manage_accounts) { status(PROBLEMS.forbidden); return; }
  $("new-kind").replaceChildren(...organisation.staff_kinds.map((k) => {
    const o = document.createElement("option"); o.value = k; o.textContent = KINDS[k] || k; return o;
  }));
  $("new-kind").value = organisation.staff_kinds.includes("mediator") ? "mediator" : organisation.staff_kinds[0];
  await load();
  showOrgDesk(organisation, token);  // 待分派案件: referred cases and applications to assign
}

main();
