// A mediator's profile (资料): qualification, specialties, introduction, and the figures of the cases they hold.
// showProfile() draws it into a container (read-only, or a form where the caller may edit it): the mediator's
// own "我的资料" on /console (this module sets that part up when the console has it), and each mediator of a
// mediation organisation on /staff (roster.js).
import { ERRORS, SPECIALTIES } from "/static/words.js";

const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

async function api(method, path, body) {
  const token = sessionStorage.getItem("mediation-token");
  const res = await fetch(path, {
    method,
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: "Bearer " + token } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (!res.ok) throw data;
  return data;
}

const problem = (err) => ERRORS[err && err.code] || (err && err.detail) || "操作失败。Something went wrong.";
const percent = (rate) => (rate === null ? "—" : `${(rate * 100).toFixed(1)}%`);

function figures(f) {
  const rows = [
    ["办理案件 Cases handled", f.handled], ["在办 Open", f.open], ["已结 Ended", f.ended],
    ["达成协议 Agreements", f.agreements], ["调解成功率 Success rate", percent(f.success_rate)],
  ];
  const dl = el("dl", { className: "profile-figures" });
  for (const [label, value] of rows) dl.append(el("dt", { textContent: label }), el("dd", { textContent: String(value) }));
  return dl;
}

/** Draw the profile of ``accountId`` into ``container``; an editable form when the caller may edit it. */
export async function showProfile(container, accountId) {
  const say = el("p", { role: "status", className: "profile-status" });
  let p;
  try { p = await api("GET", `/api/v1/accounts/${encodeURIComponent(accountId)}/profile`); }
  catch (err) { container.replaceChildren(el("p", { textContent: problem(err) })); return; }
  const head = el("p", { textContent: `${p.display_name} · ${p.organisation.name}` });
  if (!p.may_edit) {
    container.replaceChildren(head, el("dl", {},
      el("dt", { textContent: "资质 Qualification" }), el("dd", { textContent: p.qualification || "—" }),
      el("dt", { textContent: "擅长领域 Specialties" }),
      el("dd", { textContent: p.specialties.map((s) => SPECIALTIES[s.value] || s.name).join("、") || "—" }),
      el("dt", { textContent: "简介 Introduction" }), el("dd", { textContent: p.introduction || "—" })),
    figures(p.figures));
    return;
  }
  const qualification = el("input", { value: p.qualification, maxLength: 200, className: "profile-qualification" });
  const introduction = el("textarea", { value: p.introduction, maxLength: 2000, rows: 4, className: "profile-introduction" });
  const chosen = new Set(p.specialties.map((s) => s.value));
  const boxes = Object.entries(SPECIALTIES).map(([value, name]) => {
    const box = el("input", { type: "checkbox", value, checked: chosen.has(value) });
    return el("label", { className: "profile-specialty" }, box, " ", name);
  });
  const form = el("form", { className: "profile-form" },
    el("label", {}, "资质 ", el("small", { textContent: "Qualification (e.g. 律师、退休法官)" }), qualification),
    el("fieldset", {}, el("legend", { textContent: "擅长领域 Specialties" }), ...boxes),
    el("label", {}, "简介 ", el("small", { textContent: "Introduction" }), introduction),
    el("button", { className: "primary profile-save", textContent: "保存资料 " }, el("small", { textContent: "Save" })));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      qualification: qualification.value.trim(),
      specialties: boxes.map((l) => l.querySelector("input")).filter((b) => b.checked).map((b) => b.value),
      introduction: introduction.value.trim(),
    };
    try {
      const saved = await api("PUT", `/api/v1/accounts/${encodeURIComponent(accountId)}/profile`, body);
      container.querySelector(".profile-figures").replaceWith(figures(saved.figures));
      say.textContent = "资料已保存。Profile saved.";
    } catch (err) { say.textContent = problem(err); }
  });
  container.replaceChildren(head, form, say, figures(p.figures));
}

// On /console: the logged-in mediator's own profile, shown beside their cases.
const mine = document.getElementById("my-profile");
if (mine) {
  const cases = document.getElementById("cases");
  const body = document.getElementById("my-profile-body");
  let me = null;
  const sync = async () => {
    if (cases.hidden) { mine.hidden = true; me = null; return; }
    if (!me) {
      try { me = await api("GET", "/api/v1/me"); } catch { return; }
    }
    mine.hidden = me.account_kind !== "mediator";
  };
  new MutationObserver(sync).observe(cases, { attributes: true, attributeFilter: ["hidden"] });
  mine.addEventListener("toggle", () => { if (mine.open && me) showProfile(body, me.account_id); });
  sync();
}
