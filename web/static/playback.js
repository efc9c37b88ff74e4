// Recording playback for judges and mediators: every participant's clips in sync, the
// interruptions and caucus periods on one timeline, the transcript beside the videos.
// The mediator reviews the record (调解笔录) here after the session: corrects lines (the
// original is kept), adds notes and finalises it into a PDF the parties can read; judges
// see the corrections but cannot change anything. A party who may play (where the server
// allows it) is not sent the caucus periods they were not in: the server withholds them
// and the timeline marks them; the page only says so.
//
// One master clock (seconds from the session's origin) drives every media element: each
// clip plays at (master − clip.start); an element that drifts more than DRIFT seconds is
// seeked back, one that does not cover the current time is paused and hidden. Media is
// fetched with the token (a media element cannot send it) and played from blob: URLs.
// (No import of call.js: it loads the socket.io client, which playback does not need.)
import { LINK, takeLinkToken } from "/static/link.js";

const T = {
  mediator: "调解员 Mediator", applicant: "申请人 Applicant", respondent: "被申请人 Respondent",
  agent: "代理人 Agent", insurer: "保险公司 Insurer", judge: "法官 Judge", observer: "旁听 Observer",
};
const ERRORS = {
  token_expired: "登录已过期，请重新登录。Your login has expired; log in again.",
  token_revoked: "登录已失效。This login is no longer valid.",
  unauthenticated: "无法验证身份。We could not verify your login.",
  forbidden: "您无权进行此操作。You may not do this.",
  blob_integrity: "录像片段全部校验失败。Every segment of this clip failed verification.",
};

const PRIVATE = "单独沟通（未向您播放）private session (not played to you)";
const DRIFT = 0.25;          // seconds an element may drift before it is seeked
const TICK_MS = 100;         // how often the elements are brought in line
const MAX_HOLD_MS = 3000;    // the clock waits this long at most for an element that is loading or seeking
const $ = (id) => document.getElementById(id);
const show = (id, on = true) => { $(id).hidden = !on; };
const status = (text) => { $("status").textContent = text; };
// a mediator's or judge's login in this tab, or a party's own link (#token=…, where parties may play)
const linked = takeLinkToken();
let token = sessionStorage.getItem("mediation-token") || linked;
const API = "/api/v1";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

async function api(path, method = "GET", body = undefined) {
  const headers = token ? { Authorization: "Bearer " + token } : {};
  const init = { method, headers };
  if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const res = await fetch(path, init);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw { status: res.status, ...data };
  return data;
}

function problemText(err) {
  if (!err) return "出现问题 Something went wrong";
  if (err.status === 403) return "您无权回放此录像。You may not play this recording.";
  if (err.status === 404) return "未找到该案件或录像。No such case or recording.";
  return ERRORS[err.code] || err.detail || "出现问题 Something went wrong";
}

function handle(err) {
  if (err && err.status === 401) { logout(); return; }
  status(problemText(err));
}

function logout() {
  token = null; sessionStorage.removeItem("mediation-token"); sessionStorage.removeItem(LINK);
  for (const id of ["cases", "sessions", "player"]) show(id, false);
  show("login");
}

export function clockText(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`;
}

function wallText(date) {
  return date.toLocaleString("zh-CN", { hour12: false });
}

// ------------------------------------------------------------------ the master clock

class MasterClock {
  constructor() { this.base = 0; this.since = null; this.rate = 1; }
  get playing() { return this.since !== null; }
  now() { return this.since === null ? this.base : this.base + ((performance.now() - this.since) / 1000) * this.rate; }
  play() { if (this.since === null) this.since = performance.now(); }
  pause() { this.base = this.now(); this.since = null; }
  seek(t) { this.base = t; if (this.since !== null) this.since = performance.now(); }
  setRate(rate) { this.base = this.now(); if (this.since !== null) this.since = performance.now(); this.rate = rate; }
}

// ------------------------------------------------------------------ state

const player = {
  caseId: null, sessionId: null, timeline: null, clock: new MasterClock(),
  entries: [],      // {clip, el, tile, url, failed, skipped, withheld}
  tiles: new Map(), // participant id -> {figure, novideo, audioBadge, gapBadge, privateBadge}
  lines: [],        // {line, start, end, li, button, text}
  originMs: 0, timer: null, holdSince: null, currentLine: null,
  caseView: null,   // GET /cases/{id}: your_role, participants, number
  record: null,     // the session's record: lines, notes, finalised, document_id
  pdfUrl: null,     // blob: URL of the finalised record's PDF
};
window.__playback = {
  player,
  play: () => play(), pause: () => pause(), seek: (t) => seek(t),
  now: () => player.clock.now(),
  // each element's position on the session's timeline: the page's sync can be checked from outside
  state: () => player.entries.map((e) => ({
    id: e.clip.id, kind: e.clip.kind, participant_id: e.clip.participant_id, start: e.clip.start,
    t: e.clip.start + e.el.currentTime, on: !e.el.hidden && covers(e, player.clock.now()),
    paused: e.el.paused, ready: e.el.readyState, failed: Boolean(e.failed), skipped: e.skipped,
    frames: e.clip.kind === "video" && e.el.getVideoPlaybackQuality ? e.el.getVideoPlaybackQuality().totalVideoFrames : null,
  })),
};

// ------------------------------------------------------------------ choosing a case and session

async function listCases() {
  try {
    const page = await api(`${API}/cases?limit=100`);
    const rows = $("case-rows");
    rows.replaceChildren();
    for (const c of page.items) {
      const b = el("button", { "data-case-id": c.id, text: "查看录像 Recordings" });
      b.addEventListener("click", () => navigate(c.id, null));
      rows.append(el("tr", {}, el("td", { text: c.number }), el("td", { text: c.title }), el("td", { text: c.state }), el("td", {}, b)));
    }
    show("login", false); show("sessions", false); show("player", false); show("cases");
  } catch (err) { handle(err); }
}

async function listSessions(caseId) {
  try {
    const data = await api(`${API}/cases/${encodeURIComponent(caseId)}/recording/sessions`);
    const rows = $("session-rows");
    rows.replaceChildren();
    for (const s of data.sessions) {
      const b = el("button", { class: "primary", "data-session-id": s.session_id, text: "回放 Play back" });
      b.addEventListener("click", () => navigate(caseId, s.session_id));
      const sealed = s.sealed ? "已签名 signed" : "录制中或未封存 not sealed yet";
      rows.append(el("tr", {},
        el("td", { text: wallText(new Date(s.started_at)) }), el("td", { text: clockText(s.duration) }),
        el("td", { text: String(s.tracks) }), el("td", { text: sealed }), el("td", {}, b)));
    }
    show("no-sessions", data.sessions.length === 0);
    show("login", false); show("cases", false); show("player", false); show("sessions");
  } catch (err) { handle(err); }
}

function navigate(caseId, sessionId) {
  const q = new URLSearchParams();
  if (caseId) q.set("case", caseId);
  if (sessionId) q.set("session", sessionId);
  window.history.pushState(null, "", q.toString() ? `?${q}` : location.pathname);
  route();
}

function route() {
  unload();
  status("");
  const q = new URLSearchParams(location.search);
  const caseId = q.get("case"), sessionId = q.get("session");
  if (!token) { for (const id of ["cases", "sessions", "player"]) show(id, false); show("login"); return; }
  if (caseId && sessionId) load(caseId, sessionId);
  else if (caseId) listSessions(caseId);
  else listCases();
}

// ------------------------------------------------------------------ loading a session

function unload() {
  clearInterval(player.timer);
  player.timer = null;
  for (const e of player.entries) { e.el.pause(); e.el.removeAttribute("src"); if (e.url) URL.revokeObjectURL(e.url); }
  player.entries = []; player.tiles.clear(); player.lines = []; player.currentLine = null;
  player.clock = new MasterClock(); player.timeline = null; player.caseView = null; player.record = null;
  if (player.pdfUrl) { URL.revokeObjectURL(player.pdfUrl); player.pdfUrl = null; }
  $("tiles").replaceChildren(); $("audio").replaceChildren(); $("events").replaceChildren();
  $("session-notes").replaceChildren(); $("session-note-slot").replaceChildren(); show("record", false);
  show("record-tools", false); show("record-pdf-row", false); $("record-status").textContent = "";
  $("record-pdf").removeAttribute("href"); show("withheld-note", false); show("legend-withheld", false);
  if ($("finalise-dialog").open) $("finalise-dialog").close();
  for (const row of [...$("lanes").querySelectorAll(".pb-lane-row")]) row.remove();
  $("lines").replaceChildren(); $("warnings").replaceChildren(); show("warnings", false);
  for (const m of [...$("bar").querySelectorAll(".pb-mark")]) m.remove();
  $("play").disabled = true;
}

async function load(caseId, sessionId) {
  player.caseId = caseId; player.sessionId = sessionId;
  show("login", false); show("cases", false); show("sessions", false); show("player");
  status("正在加载录像… Loading the recording…");
  let timeline;
  const caseView = api(`${API}/cases/${encodeURIComponent(caseId)}`).catch(() => null);
  try {
    timeline = await api(`${API}/cases/${encodeURIComponent(caseId)}/recording/sessions/${encodeURIComponent(sessionId)}/timeline`);
  } catch (err) { show("player", false); handle(err); return; }
  player.timeline = timeline;
  player.caseView = await caseView;
  player.originMs = Date.parse(timeline.origin);
  integrity(timeline);
  buildTiles(timeline);
  buildTimeline(timeline);
  loadTranscript(caseId, sessionId);
  let done = 0;
  const total = player.entries.length;
  await Promise.all(player.entries.map(async (entry) => {
    await fetchClip(entry);
    done += 1;
    status(`正在加载录像 Loading the recording ${done}/${total}`);
  }));
  const failed = player.entries.filter((e) => e.failed && !e.withheldAll).length;
  status(failed ? `${failed} 段录像无法加载 clip(s) could not be loaded` : "");
  $("play").disabled = false;
  player.timer = setInterval(sync, TICK_MS);
  sync();
}

function integrity(timeline) {
  const withheld = (timeline.caucus || []).filter((c) => c.withheld).length;
  show("withheld-note", withheld > 0);
  show("legend-withheld", withheld > 0);
  if (withheld) {
    $("withheld-note").textContent = `${withheld} 段单独沟通您未参加，未向您播放。` +
      `${withheld} private session(s) you were not in are not played to you.`;
  }
  const p = $("integrity");
  p.className = "pb-integrity";
  if (timeline.sealed && timeline.signature_ok) {
    p.textContent = "录像清单已签名并验证 Recording manifest signed and verified";
  } else if (timeline.sealed) {
    p.classList.add("bad");
    p.textContent = "录像清单签名无法验证 The recording manifest's signature does not verify";
  } else {
    p.classList.add("unsigned");
    p.textContent = "本场录像尚未封存（调解进行中或异常结束）The recording is not sealed yet (session running or cut short)";
  }
}

function warn(text) {
  $("warnings").append(el("li", { text }));
  show("warnings");
}

async function fetchClip(entry) {
  if (entry.withheldAll) return;  // the server would refuse it: every segment lies in a private session
  try {
    const res = await fetch(entry.clip.url, { headers: { Authorization: "Bearer " + token } });
    if (!res.ok) {
      const problem = await res.json().catch(() => ({}));
      throw { status: res.status, ...problem };
    }
    entry.skipped = Number(res.headers.get("X-Recording-Skipped") || "0");
    entry.withheld = Number(res.headers.get("X-Recording-Withheld") || "0");
    if (entry.skipped) {
      warn(`${nameOf(entry.clip.participant_id)} · ${kindText(entry.clip.kind)}：${entry.skipped} 个片段校验失败，已跳过 ` +
        `segment(s) failed verification and were left out (${res.headers.get("X-Recording-Problems") || ""})`);
    }
    const blob = await res.blob();
    entry.url = URL.createObjectURL(blob);
    entry.el.src = entry.url;
  } catch (err) {
    entry.failed = true;
    warn(`${nameOf(entry.clip.participant_id)} · ${kindText(entry.clip.kind)}：${problemText(err)}`);
  }
}

function nameOf(pid) {
  const p = (player.timeline && player.timeline.participants || []).find((x) => x.participant_id === pid);
  return p ? `${p.display_name}（${T[p.role] || p.role}）` : pid;
}

function kindText(kind) { return kind === "video" ? "视频 video" : "音频 audio"; }

function buildTiles(timeline) {
  const order = [...new Set(timeline.clips.map((c) => c.participant_id))];
  for (const pid of order) {
    const novideo = el("div", { class: "pb-novideo", text: "无画面 No video" });
    const audioBadge = el("span", { class: "pb-badge audio", text: "♪ 音频 audio" });
    const gapBadge = el("span", { class: "pb-badge gap", text: "录音中断 recording interrupted" });
    const privateBadge = el("span", { class: "pb-badge private", text: "单独沟通（未向您播放）private session (not played to you)" });
    audioBadge.hidden = true; gapBadge.hidden = true; privateBadge.hidden = true;
    const figure = el("figure", { class: "pb-tile", "data-pid": pid }, novideo,
      el("figcaption", {}, el("span", { text: nameOf(pid) }), audioBadge, gapBadge, privateBadge));
    $("tiles").append(figure);
    player.tiles.set(pid, { figure, novideo, audioBadge, gapBadge, privateBadge });
  }
  for (const clip of timeline.clips) {
    const media = clip.kind === "video"
      ? el("video", { playsinline: "", muted: "", preload: "auto", "data-clip": clip.id })
      : el("audio", { preload: "auto", "data-clip": clip.id });
    if (clip.kind === "video") { media.muted = true; player.tiles.get(clip.participant_id).figure.prepend(media); }
    else $("audio").append(media);
    media.hidden = true;
    const withheldAll = Boolean(clip.withheld) && clip.withheld >= clip.segments;
    const entry = { clip, el: media, url: null, failed: false, skipped: 0, withheld: clip.withheld || 0, withheldAll };
    media.addEventListener("error", () => { entry.failed = true; });
    player.entries.push(entry);
  }
}

function place(node, start, end, duration) {
  const from = Math.max(0, Math.min(start, duration)), to = Math.max(from, Math.min(end, duration));
  node.style.left = `${(from / duration) * 100}%`;
  node.style.width = `${((to - from) / duration) * 100}%`;
}

function buildTimeline(timeline) {
  const bar = $("bar"), lanes = $("lanes"), events = $("events");
  const duration = Math.max(timeline.duration, 0.001);
  bar.setAttribute("aria-valuemax", String(Math.round(timeline.duration)));
  const items = [];
  for (const c of timeline.caucus) {
    const end = c.end === null ? timeline.duration : c.end;
    const label = c.withheld ? PRIVATE : "单独沟通 caucus";
    const mark = el("div", { class: c.withheld ? "pb-mark caucus withheld" : "pb-mark caucus", title: label },
      el("span", { class: "pb-mark-label", text: label }));
    place(mark, c.start, end, duration);
    bar.append(mark);
    const who = c.members.map(nameOf).join("、");
    items.push({ at: Math.max(0, c.start), cls: c.withheld ? "caucus withheld" : "caucus", text: `${clockText(Math.max(0, c.start))}–${clockText(end)} ${label}：${who}` });
  }
  // interruptions: one red mark per stretch of time, whoever it concerns; each track's own in its lane
  const merged = [];
  for (const i of [...timeline.interruptions].sort((a, b) => a.start - b.start)) {
    const last = merged[merged.length - 1];
    if (last && i.start <= last.end + 0.5) { last.end = Math.max(last.end, i.end); last.who.add(i.participant_id); }
    else merged.push({ start: i.start, end: i.end, who: new Set([i.participant_id]) });
  }
  for (const m of merged) {
    const mark = el("div", { class: "pb-mark gap", title: "录音中断 recording interrupted" }, el("span", { class: "pb-mark-label", text: "录音中断 recording interrupted" }));
    place(mark, m.start, m.end, duration);
    bar.append(mark);
    items.push({ at: m.start, cls: "gap", text: `${clockText(m.start)}–${clockText(m.end)} 录音中断 recording interrupted：${[...m.who].map(nameOf).join("、")}` });
  }
  for (const r of timeline.resumed_after_interruption) {
    const mark = el("div", { class: "pb-mark resume", title: "服务中断后恢复 resumed after an interruption" });
    mark.style.left = `${(Math.max(0, Math.min(r.offset, duration)) / duration) * 100}%`;
    bar.append(mark);
    items.push({ at: Math.max(0, r.offset), cls: "gap", text: `${clockText(Math.max(0, r.offset))} 服务中断后恢复 resumed after an interruption` });
  }
  const tracks = [...new Set(timeline.clips.map((c) => c.track))];
  for (const track of tracks) {
    const clips = timeline.clips.filter((c) => c.track === track);
    const lane = el("div", { class: "pb-lane", "data-track": track });
    for (const c of clips) {
      const bit = el("div", { class: `pb-clip ${c.kind}`, title: `${clockText(c.start)}–${clockText(c.start + c.duration)}` });
      place(bit, c.start, c.start + c.duration, duration);
      lane.append(bit);
    }
    for (const i of timeline.interruptions.filter((x) => x.track === track)) {
      const gap = el("div", { class: "pb-mark gap", title: "录音中断 recording interrupted" });
      place(gap, i.start, i.end, duration);
      lane.append(gap);
    }
    lane.classList.add("pb-lane-row");
    lanes.append(el("span", { class: "pb-lane-row", text: `${nameOf(clips[0].participant_id)} · ${kindText(clips[0].kind)}` }), lane);
  }
  for (const item of items.sort((a, b) => a.at - b.at)) {
    const b = el("button", { class: item.cls, text: item.text });
    b.addEventListener("click", () => seek(item.at));
    events.append(el("li", {}, b));
  }
}

// ------------------------------------------------------------------ keeping everything in step

function withheldAt(t) {
  const timeline = player.timeline;
  return Boolean(timeline) && (timeline.caucus || []).some((c) => c.withheld && t >= c.start && (c.end === null || t < c.end));
}

function covers(entry, t) {
  if (entry.withheldAll || (entry.withheld && withheldAt(t))) return false;
  const local = t - entry.clip.start;
  const media = entry.el.duration;  // shorter than the clip when its last segments were left out
  const end = Number.isFinite(media) && media > 0 ? Math.min(entry.clip.duration, media + 0.05) : entry.clip.duration;
  return local >= 0 && local < end;
}

function sync() {
  const clock = player.clock, timeline = player.timeline;
  if (!timeline) return;
  let t = clock.now();
  if (t >= timeline.duration) {
    t = timeline.duration;
    clock.pause(); clock.seek(t); playButton();
  }
  // the clock waits (a bounded while) for an element that is seeking or still loading where it should play
  const waiting = clock.playing && player.entries.some((e) => !e.failed && e.url && covers(e, t) &&
    t - e.clip.start < e.clip.duration - 0.5 && (e.el.seeking || e.el.readyState < 3));
  if (waiting) {
    if (player.holdSince === null) player.holdSince = performance.now();
    if (performance.now() - player.holdSince < MAX_HOLD_MS) { clock.seek(t); }
  } else player.holdSince = null;

  const active = new Map();
  for (const e of player.entries) {
    const on = !e.failed && e.url !== null && covers(e, t);
    e.el.hidden = !on;
    if (!on) { if (!e.el.paused) e.el.pause(); continue; }
    active.set(`${e.clip.participant_id}:${e.clip.kind}`, true);
    const local = t - e.clip.start;
    if (!e.el.seeking && Math.abs(e.el.currentTime - local) > DRIFT) e.el.currentTime = local;
    if (e.el.playbackRate !== clock.rate) e.el.playbackRate = clock.rate;
    if (clock.playing && e.el.paused && !e.el.ended) e.el.play().catch(() => {});
    if (!clock.playing && !e.el.paused) e.el.pause();
  }
  for (const [pid, tile] of player.tiles) {
    tile.figure.classList.toggle("has-video", Boolean(active.get(`${pid}:video`)));
    tile.audioBadge.hidden = !active.get(`${pid}:audio`);
    tile.gapBadge.hidden = !timeline.interruptions.some((i) => i.participant_id === pid && t >= i.start && t < i.end);
    tile.privateBadge.hidden = !withheldAt(t);
  }
  const duration = Math.max(timeline.duration, 0.001);
  $("cursor").style.left = `${(Math.min(t, duration) / duration) * 100}%`;
  $("bar").setAttribute("aria-valuenow", String(Math.round(t)));
  $("bar").setAttribute("aria-valuetext", clockText(t));
  $("clock").textContent = `${clockText(t)} / ${clockText(timeline.duration)}`;
  $("wall").textContent = wallText(new Date(player.originMs + t * 1000));
  highlightLine(t);
}

function playButton() {
  $("play").replaceChildren(...(player.clock.playing
    ? [document.createTextNode("暂停 "), el("small", { text: "Pause" })]
    : [document.createTextNode("播放 "), el("small", { text: "Play" })]));
}

function play() {
  if (!player.timeline) return;
  if (player.clock.now() >= player.timeline.duration) player.clock.seek(0);
  player.clock.play(); playButton(); sync();
}

function pause() { player.clock.pause(); playButton(); sync(); }

function seek(t) {
  if (!player.timeline) return;
  player.clock.seek(Math.max(0, Math.min(t, player.timeline.duration)));
  for (const e of player.entries) {
    if (!e.failed && e.url && covers(e, player.clock.now())) e.el.currentTime = player.clock.now() - e.clip.start;
  }
  sync();
}

// ------------------------------------------------------------------ the transcript and the record

const RECORD_ERRORS = {
  record_finalised: "笔录已定稿，不能再修改。The record is final and can no longer be changed.",
  session_not_ended: "本场调解尚未结束，结束后才能定稿。The session has not ended yet: finalise the record after it ends.",
  validation_failed: "内容不能为空，且不能超过 4000 字。The text must not be empty or longer than 4000 characters.",
  invalid_command: "内容不能为空，且不能超过 4000 字。The text must not be empty or longer than 4000 characters.",
  forbidden: "只有本案的调解员可以修改笔录。Only the mediator of the case can change the record.",
  not_found: "未找到该笔录或语句。No such record or line.",
};

function recordProblem(err) {
  if (err && err.status === 401) { logout(); return problemText(err); }
  return (err && RECORD_ERRORS[err.code]) || (err && err.detail) || problemText(err);
}

function recordMessage(text, bad = false) {
  const p = $("record-status");
  p.textContent = text;
  p.classList.toggle("warn", bad);
}

const isMediator = () => Boolean(player.caseView) && player.caseView.your_role === "mediator";
const canEdit = () => isMediator() && Boolean(player.record) && !player.record.finalised;
const casePath = () => `${API}/cases/${encodeURIComponent(player.caseId)}`;

function byText(by) {
  if (!by || !by.startsWith("account:")) return by || "";
  // only the case's mediator edits the record; the case view names participants, not accounts
  const mediators = ((player.caseView && player.caseView.participants) || []).filter((p) => p.role === "mediator");
  return mediators.length === 1 ? `${mediators[0].display_name}（${T.mediator}）` : T.mediator;
}

async function fetchRecord(caseId, sessionId) {
  let data = await api(`${API}/cases/${encodeURIComponent(caseId)}/transcript?session_id=${encodeURIComponent(sessionId)}`);
  if (Array.isArray(data.sessions)) data = data.sessions.find((x) => x.session_id === sessionId) || { lines: [], notes: [] };
  data.lines = (data.lines || []).filter((l) => !l.session_id || l.session_id === sessionId);
  data.notes = data.notes || [];
  return data;
}

const STAFF_ONLY = "笔录仅供调解员和法官查阅 The transcript is for mediators and judges";

async function loadTranscript(caseId, sessionId) {
  const box = $("transcript-status");
  const role = player.caseView && player.caseView.your_role;
  if (role && role !== "mediator" && role !== "judge") {  // the server would refuse: do not ask
    box.textContent = STAFF_ONLY; box.dataset.state = "none";
    return;
  }
  box.textContent = "正在加载笔录… Loading the transcript…";
  let data;
  try {
    data = await fetchRecord(caseId, sessionId);
  } catch (err) {
    box.textContent = err && err.status === 404 ? "暂无笔录 No transcript"
      : err && err.status === 403 ? STAFF_ONLY
        : "笔录无法加载 The transcript could not be loaded";
    box.dataset.state = "none";
    return;
  }
  if (player.caseId !== caseId || player.sessionId !== sessionId || !player.timeline) return;  // navigated away
  player.record = data;
  renderRecord();
}

function renderRecord() {
  const data = player.record;
  const box = $("transcript-status");
  $("lines").replaceChildren();
  player.lines = []; player.currentLine = null;
  for (const tile of player.tiles.values()) tile.figure.classList.remove("speaking");
  for (const line of data.lines) {
    const item = buildLine(line);
    $("lines").append(item.li);
    player.lines.push(item);
  }
  renderSessionNotes();
  renderRecordState();
  if (!data.lines.length) { box.textContent = "暂无笔录 No transcript"; box.dataset.state = "none"; return; }
  box.dataset.state = "loaded";
  renderLines();
  highlightLine(player.clock.now());
}

function renderRecordState() {
  const data = player.record;
  show("record");
  show("record-tools", canEdit());
  $("record").dataset.finalised = data.finalised ? "true" : "false";
  if (data.finalised) {
    $("record-state").textContent = `笔录已定稿 Record finalised · ${wallText(new Date(data.finalised_at))}`;
  } else {
    $("record-state").textContent = isMediator()
      ? "笔录未定稿：请核对、更正，然后定稿。Not finalised: review and correct it, then finalise."
      : "笔录未定稿 Record not finalised";
  }
  if (data.finalised && data.document_id) pdfLink(data.document_id);
  else show("record-pdf-row", false);
}

async function pdfLink(documentId) {
  const link = $("record-pdf");
  if (player.pdfUrl && link.dataset.document === documentId) { show("record-pdf-row"); return; }
  const caseId = player.caseId;
  try {
    const res = await fetch(`${casePath()}/documents/${encodeURIComponent(documentId)}`, { headers: { Authorization: "Bearer " + token } });
    if (!res.ok) throw { status: res.status, ...(await res.json().catch(() => ({}))) };
    const blob = await res.blob();
    if (player.caseId !== caseId || !player.record) return;
    if (player.pdfUrl) URL.revokeObjectURL(player.pdfUrl);
    player.pdfUrl = URL.createObjectURL(blob.type === "application/pdf" ? blob : new Blob([blob], { type: "application/pdf" }));
    link.href = player.pdfUrl;
    link.dataset.document = documentId;
    const number = (player.caseView && player.caseView.number) || documentId;
    link.setAttribute("download", `调解笔录-${number}.pdf`.replace(/[\\/:*?"<>|]/g, "-"));
    show("record-pdf-row");
  } catch (err) {
    recordMessage(`笔录 PDF 无法下载 The record's PDF could not be fetched：${recordProblem(err)}`, true);
  }
}

function engineHeard(line) {
  // the engine's own words, where the record repaired a misheard term or wrote out an amount or a date
  return line.heard && line.heard !== line.original
    ? [el("li", { class: "pb-heard" }, el("span", { class: "pb-h-label", text: "识别原文 Engine heard：" }), line.heard)]
    : [];
}

function recognitionNote(line) {
  return el("details", { class: "pb-history pb-normalised", "data-line": line.id },
    el("summary", { title: `识别原文 Engine heard: ${line.heard}` }, "已规范 ", el("small", { text: "normalised" })),
    el("ol", { class: "pb-history-list" }, ...engineHeard(line)));
}

function correctionHistory(line) {
  const heard = el("li", {}, el("span", { class: "pb-h-label", text: "原文 As heard：" }), line.original);
  const steps = line.corrections.map((c) => el("li", {},
    el("span", { class: "pb-h-label", text: `${byText(c.by)} · ${wallText(new Date(c.at))}：` }), c.text));
  const tip = [`原文 As heard: ${line.original}`,
    ...line.corrections.map((c) => `${byText(c.by)} ${wallText(new Date(c.at))}: ${c.text}`)].join("\n");
  return el("details", { class: "pb-history", "data-line": line.id },
    el("summary", { class: "fixed", title: tip }, "已更正 ", el("small", { text: "corrected" })),
    el("ol", { class: "pb-history-list" }, ...engineHeard(line), heard, ...steps));
}

function noteItem(note) {
  return el("li", { class: "pb-note", "data-note": note.id },
    el("span", { class: "pb-note-label", text: "备注 Note：" }),
    el("span", { class: "pb-note-text", text: note.text }),
    el("span", { class: "pb-note-by", text: ` — ${byText(note.by)} · ${wallText(new Date(note.at))}` }));
}

function notesAfter(lineId) {
  return ((player.record && player.record.notes) || []).filter((n) => (n.after_line_id || null) === lineId);
}

function toolButton(cls, zh, en, label, onClick) {
  const b = el("button", { type: "button", class: `pb-tool ${cls}`, "aria-label": label }, `${zh} `, el("small", { text: en }));
  b.addEventListener("click", onClick);
  return b;
}

function buildLine(line) {
  const start = (Date.parse(line.started_at) - player.originMs) / 1000;
  const end = (Date.parse(line.ended_at) - player.originMs) / 1000;
  const text = el("span", { class: "text" });
  const speaker = line.speaker || nameOf(line.participant_id);
  const button = el("button", { class: "pb-line", type: "button", "data-line": line.id, "data-start": start.toFixed(3) },
    el("span", { class: "when", text: clockText(start) }),
    el("span", { class: "who", text: `${speaker}：` }), text);
  button.addEventListener("click", () => seek(start));
  const mark = el("div", { class: "pb-mark-slot" });
  const meta = el("div", { class: "pb-line-meta" }, mark);
  const editSlot = el("div", { class: "pb-edit-slot" });
  const notes = el("ul", { class: "pb-notes" });
  const noteSlot = el("div", { class: "pb-edit-slot" });
  const li = el("li", { "data-line-id": line.id }, button, meta, editSlot, notes, noteSlot);
  const item = { line, start, end, li, button, text, mark, notes, editSlot, noteSlot, correct: null, addNote: null };
  if (canEdit()) {
    const at = `${clockText(start)} ${speaker}`;
    item.correct = toolButton("pb-correct", "更正", "Correct", `更正 Correct: ${at}`, () => openCorrection(item));
    item.correct.dataset.line = line.id;
    item.addNote = toolButton("pb-add-note", "添加备注", "Add note", `添加备注 Add a note after: ${at}`, () => openLineNote(item));
    item.addNote.dataset.line = line.id;
    meta.append(el("span", { class: "pb-tools" }, item.correct, item.addNote));
  }
  renderCorrection(item);
  renderLineNotes(item);
  return item;
}

function renderCorrection(item) {
  item.mark.replaceChildren();
  if (item.line.corrected) item.mark.append(correctionHistory(item.line));
  else if (item.line.heard && item.line.heard !== item.line.original) item.mark.append(recognitionNote(item.line));
  item.li.classList.toggle("corrected", Boolean(item.line.corrected));
}

function renderLineNotes(item) {
  const notes = notesAfter(item.line.id);
  item.notes.replaceChildren(...notes.map(noteItem));
  item.notes.hidden = notes.length === 0;
}

function renderSessionNotes() {
  const notes = notesAfter(null);
  $("session-notes").replaceChildren(...notes.map(noteItem));
  show("session-notes-empty", notes.length === 0);
}

// An inline editor: a textarea with Save and Cancel; Ctrl+Enter saves, Esc cancels.
function editor(slot, { label, value, save, done }) {
  slot.replaceChildren();
  const area = el("textarea", { rows: "3", maxlength: "4000", class: "pb-edit-text" });
  area.value = value;
  const saveButton = el("button", { type: "submit", class: "primary pb-save" }, "保存 ", el("small", { text: "Save" }));
  const cancel = el("button", { type: "button", class: "pb-cancel" }, "取消 ", el("small", { text: "Cancel" }));
  const message = el("p", { class: "pb-edit-status warn", role: "alert" });
  const form = el("form", { class: "pb-edit" },
    el("label", {}, el("span", { class: "pb-edit-label", text: label }), area),
    el("p", { class: "pb-edit-hint", text: "Ctrl+Enter 保存 save · Esc 取消 cancel" }),
    el("div", { class: "pb-edit-actions" }, saveButton, cancel), message);
  let busy = false;
  const close = (how) => { slot.replaceChildren(); done(how); };
  const submit = async () => {
    if (busy) return;
    const text = area.value.trim();
    if (!text) { message.textContent = "内容不能为空。The text is empty."; area.focus(); return; }
    busy = true; saveButton.disabled = true; form.setAttribute("aria-busy", "true");
    try {
      await save(text);
      close("saved");
    } catch (err) {
      message.textContent = recordProblem(err);
      if (err && err.code === "record_finalised") { recordMessage(recordProblem(err), true); await reloadRecord(); return; }
      area.focus();
    } finally {
      busy = false; saveButton.disabled = false; form.removeAttribute("aria-busy");
    }
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  area.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); }
    else if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); close("cancelled"); }
  });
  cancel.addEventListener("click", () => close("cancelled"));
  slot.append(form);
  area.focus();
  area.setSelectionRange(area.value.length, area.value.length);
  return form;
}

function openCorrection(item) {
  if (item.editSlot.firstChild) { item.editSlot.querySelector("textarea").focus(); return; }
  item.correct.setAttribute("aria-expanded", "true");
  editor(item.editSlot, {
    label: "更正内容 Corrected text",
    value: item.line.text,
    save: async (text) => {
      if (text === item.line.text) return;  // nothing changed: nothing to store
      const line = await api(`${casePath()}/transcript/lines/${encodeURIComponent(item.line.id)}/corrections`, "POST", { text });
      item.line = line;
      const index = player.record.lines.findIndex((l) => l.id === line.id);
      if (index >= 0) player.record.lines[index] = line;
      renderCorrection(item);
      renderLines();
      recordMessage("已保存更正，原文保留。Correction saved; the original is kept.");
    },
    done: () => { if (item.correct.isConnected) { item.correct.setAttribute("aria-expanded", "false"); item.correct.focus(); } },
  });
}

async function postNote(afterLineId, text) {
  const body = { session_id: player.sessionId, text };
  if (afterLineId) body.after_line_id = afterLineId;
  const note = await api(`${casePath()}/record/notes`, "POST", body);
  player.record.notes.push({ id: note.id, after_line_id: note.after_line_id, text: note.text, by: note.by, at: note.at });
  recordMessage("已添加备注。Note added.");
}

function openLineNote(item) {
  if (item.noteSlot.firstChild) { item.noteSlot.querySelector("textarea").focus(); return; }
  item.addNote.setAttribute("aria-expanded", "true");
  editor(item.noteSlot, {
    label: "备注（在此句之后）Note (after this line)",
    value: "",
    save: async (text) => { await postNote(item.line.id, text); renderLineNotes(item); },
    done: () => { if (item.addNote.isConnected) { item.addNote.setAttribute("aria-expanded", "false"); item.addNote.focus(); } },
  });
}

function openSessionNote() {
  const slot = $("session-note-slot");
  if (slot.firstChild) { slot.querySelector("textarea").focus(); return; }
  $("add-session-note").setAttribute("aria-expanded", "true");
  editor(slot, {
    label: "整场备注 Note on the whole session",
    value: "",
    save: async (text) => { await postNote(null, text); renderSessionNotes(); },
    done: () => { $("add-session-note").setAttribute("aria-expanded", "false"); if (canEdit()) $("add-session-note").focus(); },
  });
}

async function reloadRecord() {
  try {
    player.record = await fetchRecord(player.caseId, player.sessionId);
    renderRecord();
  } catch (err) { recordMessage(recordProblem(err), true); }
}

function askFinalise() {
  const open = document.querySelectorAll("#lines .pb-edit, #session-note-slot .pb-edit").length;
  show("finalise-unsaved", open > 0);
  $("finalise-dialog").returnValue = "";
  $("finalise-dialog").showModal();
  $("finalise-cancel").focus();  // the safe choice first
}

async function finalise() {
  const button = $("finalise");
  button.disabled = true;
  recordMessage("正在定稿… Finalising…");
  try {
    const doc = await api(`${casePath()}/record/finalise`, "POST", { session_id: player.sessionId });
    try {
      player.record = await fetchRecord(player.caseId, player.sessionId);
    } catch {
      Object.assign(player.record, { finalised: true, finalised_at: doc.created_at, document_id: doc.id });
    }
    renderRecord();
    recordMessage("笔录已定稿：已生成 PDF，当事人可以阅读，不能再修改。The record is final: a PDF the parties can read; it can no longer be changed.");
    $("record-state").focus();
  } catch (err) {
    recordMessage(recordProblem(err), true);
    if (err && err.code === "record_finalised") await reloadRecord();
  } finally {
    button.disabled = false;
  }
}

function renderLines() {
  const query = $("search").value.trim();
  const needle = query.toLowerCase();
  let matches = 0;
  for (const item of player.lines) {
    const body = item.line.text || "";
    item.text.replaceChildren();
    const hit = !needle || body.toLowerCase().includes(needle);
    item.li.hidden = !hit;
    if (!hit) continue;
    if (needle) {
      matches += 1;
      let from = 0;
      const lower = body.toLowerCase();
      for (let at = lower.indexOf(needle); at !== -1; at = lower.indexOf(needle, from)) {
        item.text.append(body.slice(from, at), el("mark", { text: body.slice(at, at + needle.length) }));
        from = at + needle.length;
      }
      item.text.append(body.slice(from));
    } else item.text.textContent = body;
  }
  if (player.lines.length) {
    $("transcript-status").textContent = needle ? `${matches} 条匹配 match(es)` : `${player.lines.length} 条 line(s)`;
  }
}

function highlightLine(t) {
  let current = null;
  for (const item of player.lines) if (t >= item.start && t < Math.max(item.end, item.start + 0.5)) current = item;
  if (current === player.currentLine) return;
  if (player.currentLine) player.currentLine.button.classList.remove("current");
  player.currentLine = current;
  for (const tile of player.tiles.values()) tile.figure.classList.remove("speaking");
  if (!current) return;
  current.button.classList.add("current");
  const tile = player.tiles.get(current.line.participant_id);
  if (tile) tile.figure.classList.add("speaking");
  if (player.clock.playing && !current.li.hidden) current.button.scrollIntoView({ block: "nearest" });
}

// ------------------------------------------------------------------ wiring

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const res = await fetch(`${API}/auth/login`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: $("username").value, password: $("password").value }),
    });
    const data = await res.json();
    if (!res.ok) throw data;
    token = data.token; sessionStorage.setItem("mediation-token", token); status(""); route();
  } catch (err) {
    status(err && err.code === "too_many_attempts" ? "尝试次数过多，请稍后再试。Too many attempts; try later." : "用户名或密码错误。Wrong user name or password.");
  }
});
$("play").addEventListener("click", () => (player.clock.playing ? pause() : play()));
$("rate").addEventListener("change", () => { player.clock.setRate(Number($("rate").value)); sync(); });
$("bar").addEventListener("click", (e) => {
  if (!player.timeline) return;
  const box = $("bar").getBoundingClientRect();
  seek(((e.clientX - box.left) / box.width) * player.timeline.duration);
});
$("bar").addEventListener("keydown", (e) => {
  const step = { ArrowLeft: -5, ArrowRight: 5, PageDown: -30, PageUp: 30 }[e.key];
  if (step) { e.preventDefault(); seek(player.clock.now() + step); }
  if (e.key === " ") { e.preventDefault(); $("play").click(); }
});
$("search").addEventListener("input", renderLines);
$("add-session-note").addEventListener("click", openSessionNote);
$("finalise").addEventListener("click", askFinalise);
$("finalise-cancel").addEventListener("click", () => $("finalise-dialog").close("cancel"));
$("finalise-confirm").addEventListener("click", () => { $("finalise-dialog").close("confirm"); finalise(); });
$("finalise-dialog").addEventListener("close", () => {
  if ($("finalise-dialog").returnValue !== "confirm" && canEdit()) $("finalise").focus();
});
$("to-cases").addEventListener("click", () => navigate(null, null));
$("to-sessions").addEventListener("click", () => navigate(player.caseId, null));
window.addEventListener("popstate", route);
route();
