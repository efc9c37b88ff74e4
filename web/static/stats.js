// The statistics dashboard: the figures of the cases the logged-in staff member may see (their organisation's,
// their court's, or a mediator's own), filtered by court, organisation and period; number tiles, charts drawn
// here as inline SVG (no library), tables with bar cells, and the same figures as CSV.
import { stateName, ERRORS } from "/static/words.js";

const $ = (id) => document.getElementById(id);
const show = (id, on = true) => { $(id).hidden = !on; };
const status = (text) => { $("status").textContent = text; };
const token = sessionStorage.getItem("mediation-token");
const SVG = "http://www.w3.org/2000/svg";
const SCOPES = { organisation: "本机构案件 Your organisation's cases", court: "本院委派及本院受理的案件 Cases your court referred or holds", mediator: "本人承办的案件 Cases you hold" };

function query() {
  const q = new URLSearchParams();
  for (const [key, id] of [["court", "f-court"], ["organisation", "f-organisation"], ["from", "f-from"], ["to", "f-to"]]) {
    if ($(id).value) q.set(key, $(id).value);
  }
  const text = q.toString();
  return text ? "?" + text : "";
}

async function get(path) {
  const res = await fetch(path, { headers: { Authorization: "Bearer " + token } });
  if (!res.ok) throw await res.json().catch(() => ({}));
  return res;
}

function problem(err) {
  if (err && err.code === "invalid_command" || err && err.code === "validation_failed") {
    return "请检查查询期间：日期须为有效日期，起始不晚于截止，且不超过十年。Check the period: real dates, from before to, at most ten years.";
  }
  return (err && ERRORS[err.code]) || (err && err.detail) || "无法读取统计。The figures could not be read.";
}

const el = (name, attrs = {}, text = "") => {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text) node.textContent = text;
  return node;
};

const percent = (rate) => (rate === null ? "—" : `${(rate * 100).toFixed(1)}%`);
const daysText = (d) => (d === null ? "—" : `${d} 天`);
const scoreText = (s) => (s === null ? "—" : s.toFixed(2));

function tiles(t) {
  const items = [
    ["cases", String(t.cases), "案件 Cases"],
    ["success_rate", percent(t.success_rate), `调解成功率 Success rate（${t.successes}/${t.decided}）`],
    ["median_days_to_agreement", daysText(t.median_days_to_agreement), "委派至达成协议（中位） Days to agreement"],
    ["median_days_to_confirmation", daysText(t.median_days_to_confirmation), "委派至司法确认（中位） Days to confirmation"],
    ["overdue", String(t.overdue), "超期未结 Overdue"],
    ["satisfaction", scoreText(t.satisfaction), `平均满意度 Satisfaction（${t.ratings} 条评价）`],
  ];
  $("tiles").replaceChildren(...items.map(([key, value, label]) => {
    const div = document.createElement("div");
    div.className = "stat"; div.dataset.figure = key;
    const b = document.createElement("b"); b.textContent = value;
    const span = document.createElement("span"); span.textContent = label;
    div.append(b, span);
    return div;
  }));
}

// horizontal bars: one row per state, its Chinese name on the left
function stateChart(byState) {
  const rows = Object.entries(byState).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...rows.map(([, n]) => n));
  const row = 22, label = 130, width = 340;
  const svg = el("svg", { viewBox: `0 0 ${width} ${Math.max(row, rows.length * row)}`, role: "img", "aria-label": "各状态案件数 Cases by state" });
  rows.forEach(([state, n], i) => {
    const y = i * row;
    const w = ((width - label - 40) * n) / max;
    const g = el("g", { "data-state": state });
    g.append(el("text", { x: 0, y: y + 15 }, stateName(state).split(" ")[0]));
    g.append(el("rect", { class: "bar-cases", x: label, y: y + 4, width: Math.max(1, w), height: row - 8, rx: 2 }));
    g.append(el("text", { x: label + w + 4, y: y + 15 }, String(n)));
    svg.append(g);
  });
  if (!rows.length) svg.append(el("text", { x: 0, y: 15 }, "暂无案件 No cases"));
  $("chart-states").replaceChildren(svg);
}

// vertical bars: per month, cases and successes side by side
function monthChart(months) {
  const height = 160, bottom = 28, top = 14, width = 340, left = 4;
  const max = Math.max(1, ...months.map((m) => m.cases));
  const slot = months.length ? (width - left) / months.length : width;
  const bar = Math.max(2, Math.min(18, slot / 2 - 2));
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "每月案件与调解成功 Cases and successes per month" });
  svg.append(el("line", { class: "axis", x1: 0, x2: width, y1: height - bottom, y2: height - bottom }));
  const scale = (n) => ((height - bottom - top) * n) / max;
  const every = Math.ceil(months.length / 8);  // at most eight month labels fit a phone
  months.forEach((m, i) => {
    const x = left + i * slot + slot / 2;
    const g = el("g", { "data-month": m.key });
    const hc = scale(m.cases), hs = scale(m.successes);
    g.append(el("rect", { class: "bar-cases", x: x - bar, y: height - bottom - hc, width: bar, height: Math.max(0, hc) }));
    g.append(el("rect", { class: "bar-successes", x: x, y: height - bottom - hs, width: bar, height: Math.max(0, hs) }));
    g.append(el("title", {}, `${m.key}：案件 ${m.cases}，成功 ${m.successes}`));
    if (i % every === 0) g.append(el("text", { x: x - 16, y: height - bottom + 14 }, m.key.slice(2)));
    svg.append(g);
  });
  if (!months.length) svg.append(el("text", { x: 0, y: 20 }, "暂无案件 No cases"));
  $("chart-months").replaceChildren(svg);
}

function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }

// one row per organisation or mediator; the cases cell carries a bar of cases, the successes inside it
function groupRows(id, groups) {
  const max = Math.max(1, ...groups.map((g) => g.cases));
  $(id).replaceChildren(...groups.map((g) => {
    const tr = document.createElement("tr");
    tr.dataset.key = g.key;
    const td = document.createElement("td");
    td.className = "bar";
    const svg = el("svg", { viewBox: "0 0 100 14", preserveAspectRatio: "none" });
    svg.append(el("rect", { class: "bar-cases", x: 0, y: 2, width: (70 * g.cases) / max, height: 10 }));
    svg.append(el("rect", { class: "bar-successes", x: 0, y: 5, width: (70 * g.successes) / max, height: 4 }));
    const n = document.createElement("span"); n.className = "count"; n.textContent = String(g.cases);
    td.append(n, svg);
    tr.append(cell(g.name), td, cell(percent(g.success_rate)), cell(daysText(g.median_days_to_agreement)),
      cell(String(g.overdue)), cell(scoreText(g.satisfaction)));
    return tr;
  }));
}

function options(id, choices, chosen) {
  const all = document.createElement("option");
  all.value = ""; all.textContent = "全部 All";
  $(id).replaceChildren(all, ...choices.map((c) => {
    const o = document.createElement("option"); o.value = c.id; o.textContent = c.name; return o;
  }));
  $(id).value = chosen || "";
}

function render(f) {
  $("scope").textContent = `${f.scope.organisation_name} · ${SCOPES[f.scope.kind] || ""}`;
  options("f-court", f.choices.courts, f.filters.court);
  options("f-organisation", f.choices.organisations, f.filters.organisation);
  tiles(f.totals);
  stateChart(f.totals.by_state);
  monthChart(f.by_month);
  groupRows("rows-organisations", f.by_organisation);
  groupRows("rows-mediators", f.by_mediator);
  show("judges", f.judges.length > 0);
  $("rows-judges").replaceChildren(...f.judges.map((j) => {
    const tr = document.createElement("tr");
    tr.append(cell(j.name), cell(String(j.rulings)), cell(String(j.pending)));
    return tr;
  }));
  const claims = f.claims_by_insurer || [];  // one-click claims: days to payment per insurer
  show("claims", claims.length > 0);
  $("rows-claims").replaceChildren(...claims.map((x) => {
    const tr = document.createElement("tr");
    tr.append(cell(x.insurer), cell(String(x.paid)), cell(x.median_days_to_payment === null ? "—" : String(x.median_days_to_payment)));
    return tr;
  }));
}

async function load() {
  status("正在统计… Counting…");
  try {
    render(await (await get("/api/v1/statistics" + query())).json());
    show("dashboard");
    status("");
    document.body.dataset.loaded = query();
  } catch (err) {
    if (err && (err.code === "unauthenticated" || err.code === "token_expired")) { show("need-login"); status(""); return; }
    status(problem(err));
  }
}

$("filters").addEventListener("submit", (e) => { e.preventDefault(); load(); });

$("export").addEventListener("click", async () => {
  try {
    const blob = await (await get("/api/v1/statistics.csv" + query())).blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url; a.download = `统计-${new Date().toISOString().slice(0, 10)}.csv`;
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) { status(problem(err)); }
});

if (!token) show("need-login");
else load();
