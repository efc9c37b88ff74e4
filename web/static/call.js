// The call, shared by the party page and the mediator console.
// One RTCPeerConnection to the server. The server makes every offer and the page
// answers, putting its microphone and camera on the lines the offer marks "uplink". Tiles are keyed by participant id, never
// by track, so a reconnect never makes a second tile.
import { io } from "/static/vendor/socket.io.esm.min.js";

export { T, STATES, stateName, ERRORS } from "/static/words.js";
import { T, ERRORS } from "/static/words.js";

export const MEDIA = { audio: true, video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15, max: 24 } } };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

export class RoomClient extends EventTarget {
  constructor({ token, caseId, tiles, localVideo, consent = false }) {
    super();
    this.consent = consent;          // the recording notice was shown and accepted
    this.token = token;
    this.caseId = caseId;
    this.tiles = tiles;              // container element
    this.localVideo = localVideo;    // <video> for the self view
    this.stream = null;
    this.pc = null;
    this.room = null;
    this.me = null;
    this.trackOwners = {};           // mid -> {participant_id, kind}
    this.streams = {};               // participant id -> MediaStream
    this.sdpChain = Promise.resolve();
    this.left = false;
    this.socket = null;
    this.server = undefined;         // another node's URL when the room is hosted there
  }

  async openDevices() {
    this.stream = await navigator.mediaDevices.getUserMedia(MEDIA);
    if (this.localVideo) this.localVideo.srcObject = this.stream;
    return this.stream;
  }

  connect() {
    const auth = { token: this.token };
    if (this.caseId) auth.case_id = this.caseId;
    const options = { auth, transports: ["websocket"], reconnectionDelay: 500, reconnectionDelayMax: 3000 };
    this.socket = this.server ? io(this.server, options) : io(options);
    this.socket.on("connect", () => this.join());
    this.socket.on("connect_error", (err) => this.emitEvent("problem", (err && err.data) || { code: "unreachable" }));
    this.socket.on("room", (room) => this.onRoom(room));
    this.socket.on("sdp", (msg) => this.onSdp(msg));
    this.socket.on("chat", (line) => this.emitEvent("chat", line));
    this.socket.on("caption", (caption) => this.emitEvent("caption", caption));
    this.socket.on("error", (err) => this.emitEvent("problem", err));
    for (const name of ["removed", "ended", "replaced"]) {
      this.socket.on(name, (data) => { this.left = true; this.teardown(); this.emitEvent(name, data); });
    }
  }

  emitEvent(name, detail) {
    if (name === "problem" && this.left) return;  // the page closed the room on purpose: nothing is wrong
    if (name === "problem") console.warn("mediation problem", JSON.stringify(detail));
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }

  // Resolves with the server's acknowledgement. A socket this page closed on purpose ("ended",
  // "removed", "replaced", leave) drops the acknowledgements still due, such as the one for "end",
  // whose "ended" event arrives first: those resolve {ok: false, code: "closed"}, which is no problem.
  call(event, payload = {}) {
    return new Promise((resolve) => this.socket.timeout(15000).emit(event, payload, (err, ack) => {
      if (!err) resolve(ack);
      else if (this.left) resolve({ ok: false, code: "closed", message: "The room was closed" });
      else resolve({ ok: false, code: "timeout", message: "No answer from the server" });
    }));
  }

  async join() {
    if (this.left) return;
    const ack = await this.call("join", { consent: this.consent });
    if (!ack.ok && ack.code === "other_node" && ack.url && ack.url !== this.server) {
      // the session is hosted by another node: move there (same link, same identity)
      this.socket.io.opts.reconnection = false;
      this.socket.disconnect();
      this.server = ack.url;
      this.connect();
      return;
    }
    if (!ack.ok) { this.emitEvent("problem", ack); return; }
    this.me = ack;
    this.emitEvent("joined", ack);
    await this.publish();
  }

  async publish() {
    // A new media connection: the server offers, this page answers (it never offers).
    if (this.pc) this.pc.close();
    this.trackOwners = {};
    this.sdpChain = Promise.resolve();
    const iceServers = (this.room && this.room.ice_servers) || [];
    const pc = new RTCPeerConnection({ iceServers });
    this.pc = pc;
    pc.onicecandidate = (e) => {
      if (e.candidate && e.candidate.candidate) {
        this.call("ice", { candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex });
      }
    };
    pc.ontrack = (e) => this.onTrack(e);
    pc.onconnectionstatechange = () => {
      this.emitEvent("connection", pc.connectionState);
      if (pc === this.pc && pc.connectionState === "failed" && !this.left) this.publish();
    };
    const ack = await this.call("media");
    if (!ack.ok) this.emitEvent("problem", ack);
  }

  onSdp(msg) {
    const pc = this.pc;
    this.sdpChain = this.sdpChain.then(async () => {
      if (!pc || pc !== this.pc || msg.type !== "offer") return;
      Object.assign(this.trackOwners, msg.tracks || {});
      await pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
      const uplink = msg.uplink || {};
      for (const t of pc.getTransceivers()) {
        const kind = uplink[t.mid];
        const track = kind && this.stream && this.stream.getTracks().find((x) => x.kind === kind);
        if (track && !t.sender.track) {
          await t.sender.replaceTrack(track);
          t.direction = "sendonly";
        }
      }
      await pc.setLocalDescription(await pc.createAnswer());
      const ack = await this.call("sdp", { type: "answer", sdp: pc.localDescription.sdp });
      if (!ack.ok) this.emitEvent("problem", ack);
    }).catch((err) => this.emitEvent("problem", { code: "negotiation_failed", message: String(err) }));
  }

  onTrack(e) {
    const owner = this.trackOwners[e.transceiver.mid];
    if (!owner) return;
    const pid = owner.participant_id;
    const stream = this.streams[pid] || (this.streams[pid] = new MediaStream());
    for (const old of stream.getTracks().filter((t) => t.kind === e.track.kind)) stream.removeTrack(old);
    stream.addTrack(e.track);
    this.renderTiles();
  }

  onRoom(room) {
    this.room = room;
    this.renderTiles();
    this.emitEvent("room", room);
  }

  renderTiles() {
    if (!this.tiles || !this.room) return;
    const members = (this.room.members || []).filter((m) => m.presence === "admitted" && this.me && m.participant_id !== this.me.participant_id);
    const receiving = new Set(this.room.receiving || []);
    const keep = new Set();
    for (const m of members) {
      keep.add(m.participant_id);
      let tile = this.tiles.querySelector(`[data-pid="${m.participant_id}"]`);
      if (!tile) {
        const video = el("video", { autoplay: "", playsinline: "" });
        video.muted = true;
        tile = el("figure", { class: "tile", "data-pid": m.participant_id }, video, el("audio", { autoplay: "" }), el("figcaption"));
        this.tiles.append(tile);
      }
      const stream = this.streams[m.participant_id];
      for (const media of tile.querySelectorAll("video, audio")) {
        if (stream && media.srcObject !== stream) media.srcObject = stream;
      }
      const hidden = !receiving.has(`${m.participant_id}:video`);
      tile.classList.toggle("no-video", hidden);
      const flags = [];
      if (m.muted.includes("audio")) flags.push("[静音 muted]");
      if (!m.connected) flags.push("⚠ 连接中断 reconnecting");
      tile.querySelector("figcaption").textContent = `${m.display_name} · ${T[m.role] || m.role} ${flags.join(" ")}`;
    }
    for (const tile of [...this.tiles.querySelectorAll(".tile")]) {
      if (!keep.has(tile.dataset.pid)) tile.remove();
    }
  }

  setEnabled(kind, enabled) {
    for (const t of this.stream ? this.stream.getTracks() : []) if (t.kind === kind) t.enabled = enabled;
  }

  async leave() {
    this.left = true;
    if (this.socket && this.socket.connected) await this.call("leave");
    this.teardown();
  }

  teardown() {
    if (this.pc) { this.pc.close(); this.pc = null; }
    if (this.socket) { this.socket.io.opts.reconnection = false; this.socket.disconnect(); }
    if (this.tiles) this.tiles.replaceChildren();
  }

  // For tests and diagnostics: what this page receives, per publisher (own data only).
  async inbound() {
    const out = {};
    if (!this.pc) return out;
    const stats = await this.pc.getStats();
    stats.forEach((s) => {
      if (s.type !== "inbound-rtp") return;
      const owner = this.trackOwners[s.mid];
      if (!owner) return;
      const entry = out[owner.participant_id] || (out[owner.participant_id] = {});
      entry[s.kind] = {
        packetsReceived: s.packetsReceived || 0, framesDecoded: s.framesDecoded || 0,
        totalAudioEnergy: s.totalAudioEnergy || 0, audioLevel: s.audioLevel || 0,
      };
    });
    return out;
  }
}

export function chatLine(line, myId) {
  const who = line.from === myId ? "我 Me" : line.name;
  const node = el("p", { class: line.private ? "chat-line private" : "chat-line" });
  node.append(el("b", { text: who + "：" }), line.text);
  return node;
}

/** Live captions: one line per speaker while they talk (partial, in grey), then the final text.
 *  Keeps the last `keep` final lines; screen readers hear final lines only. */
export class Captions {
  constructor(box, keep = 4) { this.box = box; this.keep = keep; this.partials = new Map(); }
  show(c) {
    if (!c || typeof c.text !== "string") return;
    let el = this.partials.get(c.participant_id);
    if (!el) {
      if (!c.text) return;
      el = document.createElement("p");
      el.className = "caption";
      const who = document.createElement("b");
      who.textContent = (c.name || "") + "：";
      el.append(who, document.createElement("span"));
      el.dataset.speaker = c.participant_id;
      this.box.append(el);
      this.partials.set(c.participant_id, el);
    }
    el.lastChild.textContent = c.text;
    el.classList.toggle("partial", !c.final);
    if (c.final) {
      this.partials.delete(c.participant_id);
      if (!c.text) el.remove();
      else { el.setAttribute("role", "status"); el.dataset.line = c.line_id || ""; }
      const finals = [...this.box.querySelectorAll(".caption:not(.partial)")];
      for (const old of finals.slice(0, Math.max(0, finals.length - this.keep))) old.remove();
    }
    this.box.hidden = !this.box.childElementCount;
  }
}

