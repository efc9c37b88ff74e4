"""Scene report intake over an emulated 3G phone link: from the driver's first photo to "accepted" on the phone.

The real server runs in its own process (``python -m server.cli serve`` on 127.0.0.1, fresh SQLite data
folder) with a police unit and one officer (``server.cli account create --kind police_officer --organization
…``: an account kind only police units hold makes the new organisation a police unit).

The photos: three camera-like JPEGs, 4000×3000, about 4 MB each at quality 92 (``bench/support/photos.py``:
random but seeded), written once per run into the temporary folder; the photo with the vehicle (人车合影) and
the other driver's photos are small 1600×1200 JPEGs (about 70 kB).

The phone: Debian's ``/usr/bin/chromium`` through Playwright, 360×740, mobile, touch, an Android user agent,
zh-CN, Asia/Shanghai. Its link is emulated with CDP ``Network.emulateNetworkConditions`` as Chrome DevTools'
"Fast 3G" preset: latency 562.5 ms, download 1.6 Mbit/s × 0.9, upload 750 kbit/s × 0.9 (84 375 bytes/s).
The emulation starts once the report is started (the page's load and the start form run on loopback, untimed,
to keep ``--quick`` short); the bench's own HTTP calls (the officer, the other driver) are never throttled.

Each side is a fresh report. Driver 1 opens ``/scene`` from the home page's link and starts a report as a user
(the form); driver 2 joins over the API with the number and join code the phone shows, gives their items and
four photos and completes their part before the clock starts. Then, timed in the page with
``performance.now()``:

- measured, the real page (web/static/scene.js), driven as its user: each scene photo is chosen in the step's
  ``<input type=file capture>`` (Playwright ``set_input_files``); the page hashes the original (SHA-256),
  downscales it (longest side 1600 px, JPEG 0.85) and uploads it at once, so the clock starts at the FIRST
  PHOTO CHOSEN (a capturing ``change`` listener); next, the items form, the photo with the vehicle, submit;
- baseline, the same page context and scene link: the same originals uploaded unscaled with ``fetch`` to the
  same endpoint (with the original's SHA-256), then the same items, photo with the vehicle and submit calls;
  the clock starts at the first upload.

The bench officer polls the unit's queue every 100 ms over the API and accepts each submitted report at once.
The clock stops when the phone shows the accepted state (``#state`` gets the ``accepted`` class and
"已受理，可撤离现场": a ``MutationObserver``); the page polls its report every 3 s, both sides alike. Bytes
uploaded: the sizes the server stored for driver 1's three scene photos (the officer's view of the report).

``--quick``: one unscaled 4 MB photo alone takes about 48 s on this link, so quick times one camera photo per
side, of 2000×1500 (about 1 MB) instead of 4000×3000 (the rear and collision slots get small photos, the same on
both sides; ``"photos": 1`` and ``"photo_px"`` in the JSON), to run in under a minute; its ratio is smaller than
the full run's, since a 1 MB original costs the baseline a quarter of the time. ``--cpu-throttle 4`` slows the phone's CPU as DevTools' "mid-tier mobile" does
(CDP ``Emulation.setCPUThrottlingRate``, timed part only). The last line printed is one JSON object.

    .venv/bin/python bench/intake.py --quick
    .venv/bin/python bench/intake.py
    .venv/bin/python bench/intake.py --cpu-throttle 4
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from support.photos import SIZE, camera_jpeg, write_camera_photos  # noqa: E402

QUICK_PX = (2000, 1500)
"""The camera photo's size in --quick (about 1 MB), so that the unscaled baseline fits the minute."""
from support.process import log_tail, run_cli, spawn_server, stop_process, wait_healthy  # noqa: E402

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.e2e.chromium import ARGS as CHROMIUM_ARGS  # noqa: E402
from tests.e2e.chromium import CHROMIUM, PHONE  # noqa: E402

API = "/api/v1"
OFFICER = "bench-officer"
UNIT = "示范区公安局交通警察大队"
SLOTS = ("front", "rear", "collision")
MOBILE_UA = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"
)
FAST_3G = {
    "offline": False,
    "latency": 562.5,
    "downloadThroughput": 1.6 * 1000 * 1000 / 8 * 0.9,
    "uploadThroughput": 750 * 1000 / 8 * 0.9,
}
"""Chrome DevTools' "Fast 3G" preset (ms, bytes/s)."""
LIMIT_MS = 600_000
"""The most one step may take on the phone (an unscaled 4 MB photo takes about 50 s at 675 kbit/s)."""
DRIVERS = (
    {
        "name": "张三",
        "phone": "13900000011",
        "licence_number": "330102199001011111",
        "plate": "浙A12345",
        "insurer": "人保财险",
        "damaged_part": "左前保险杠",
    },
    {
        "name": "李四",
        "phone": "13900000022",
        "licence_number": "330102199202022222",
        "plate": "浙AD12345",
        "insurer": "平安产险",
        "damaged_part": "右后灯",
    },
)

WATCH = """
() => {
  // the clock: the first photo chosen in a file input (a capturing listener), the accepted state on #state
  window.__bench = {t0: null, accepted: null, marks: {}, chosen: [], uploading: [], uploaded: []};
  document.addEventListener("change", (e) => {
    if (e.target.type !== "file") return;
    if (window.__bench.t0 === null) window.__bench.t0 = performance.now();
    window.__bench.chosen.push(performance.now());
  }, true);
  // the photo step's own words: 正在上传 (hashed and downscaled, the upload starts), 已上传 (the server took it)
  const photo = document.getElementById("photo-state");
  new MutationObserver(() => {
    const text = photo.textContent;
    if (text.startsWith("正在上传")) window.__bench.uploading.push(performance.now());
    if (text.startsWith("已上传 ✓")) window.__bench.uploaded.push(performance.now());
  }).observe(photo, {childList: true, characterData: true, subtree: true});
  const state = document.getElementById("state");
  const seen = () => {
    if (!window.__bench.marks.submitted && state.classList.contains("submitted")) {
      window.__bench.marks.submitted = performance.now();
    }
    if (window.__bench.accepted === null && state.classList.contains("accepted")) {
      window.__bench.accepted = performance.now();
      window.__bench.shown = state.textContent;
    }
  };
  new MutationObserver(seen).observe(state, {attributes: true, childList: true, characterData: true, subtree: true});
}
"""

BASELINE = """
async ({reportId, token, items, slots}) => {
  // the originals, unscaled, with fetch from the same page (its scene link), then the items, the photo with
  // the vehicle and the driver's submit: the API calls the page makes, without the downscaling
  const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const auth = {Authorization: `Bearer ${token}`};
  const files = [...document.getElementById("bench-photos").files];
  const b = window.__bench;
  b.t0 = performance.now();
  const sent = [];
  const send = async (file, slot) => {
    const hash = hex(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
    const q = new URLSearchParams({slot, original_sha256: hash, original_size: String(file.size),
                                   captured_at: new Date(file.lastModified).toISOString()});
    const r = await fetch(`/api/v1/scene-reports/${reportId}/photos?${q}`,
                          {method: "POST", headers: {...auth, "Content-Type": "image/jpeg"}, body: file});
    if (r.status !== 201) throw new Error(`${slot}: ${r.status} ${await r.text()}`);
    sent.push(file.size);
  };
  for (let i = 0; i < slots.length; i++) {
    await send(files[i], slots[i]);
    b.marks[`photo${i + 1}`] = performance.now();
  }
  const put = await fetch(`/api/v1/scene-reports/${reportId}/items`,
                          {method: "PUT", headers: {...auth, "Content-Type": "application/json"},
                           body: JSON.stringify(items)});
  if (!put.ok) throw new Error(`items: ${put.status} ${await put.text()}`);
  await send(files[slots.length], "driver_with_vehicle");
  const done = await fetch(`/api/v1/scene-reports/${reportId}/complete`, {method: "POST", headers: auth});
  if (!done.ok) throw new Error(`complete: ${done.status} ${await done.text()}`);
  b.marks.submitted = performance.now();
  return sent;
}
"""

HIDDEN_INPUT = """
() => {
  const input = document.createElement("input");
  input.type = "file"; input.id = "bench-photos"; input.multiple = true; input.hidden = true;
  document.body.append(input);
}
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Side:
    """One side of the run: a fresh report, its timings (ms after the clock started) and bytes."""

    mode: str  # "page" (measured: the real page downscales) or "original" (baseline: unscaled with fetch)
    report_id: str = ""
    marks: dict[str, float] = field(default_factory=dict)
    sent: list[int] = field(default_factory=list)
    stored: list[int] = field(default_factory=list)
    shown: str = ""
    prepare_ms: list[float] = field(default_factory=list)
    """Per photo chosen on the page: from the choice to the upload's start (reading, SHA-256, downscaling)."""
    upload_ms: list[float] = field(default_factory=list)
    """Per photo chosen on the page: the upload (the request until the server's answer)."""
    accept_call_ms: float | None = None


class Api:
    """The bench's own HTTP calls (loopback, not throttled)."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base

    async def call(
        self, method: str, path: str, token: str | None = None, body: Any = None, data: bytes | None = None, **q: str
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if data is not None:
            headers["Content-Type"] = "image/jpeg"
        async with self.http.request(
            method, self.base + API + path, json=body, data=data, headers=headers, params=q or None
        ) as resp:
            out = await resp.json()
            if resp.status >= 300:
                raise RuntimeError(f"{method} {path}: {resp.status} {out}")
            return out


def small_photo(seed: int) -> bytes:
    """A 1600×1200 JPEG without noise (about 70 kB): the other driver's photos, the photo with the vehicle."""
    return camera_jpeg(seed, size=(1600, 1200), sigma=0, quality=80)


async def other_driver(api: Api, number: str, code: str, seed: int) -> None:
    """Driver 2 joins with the number and code the phone shows, gives their items and photos, completes."""
    joined = await api.call(
        "POST",
        "/public/scene-reports/join",
        body={"number": number, "code": code, "name": DRIVERS[1]["name"], "phone": DRIVERS[1]["phone"]},
    )
    report_id, token = joined["report"]["id"], joined["token"]
    await api.call("PUT", f"/scene-reports/{report_id}/items", token, body=DRIVERS[1])
    for i, slot in enumerate((*SLOTS, "driver_with_vehicle")):
        data = small_photo(seed + i)
        digest = hashlib.sha256(data).hexdigest()
        await api.call(
            "POST",
            f"/scene-reports/{report_id}/photos",
            token,
            data=data,
            slot=slot,
            original_sha256=digest,
            original_size=str(len(data)),
        )
    await api.call("POST", f"/scene-reports/{report_id}/complete", token)


async def officer_loop(api: Api, token: str, sides: dict[str, Side], stop: asyncio.Event) -> None:
    """Poll the desk's queue every 100 ms; accept each submitted report at once."""
    while not stop.is_set():
        queue = await api.call("GET", "/police/scene-reports", token)
        for item in queue["reports"]:
            if item["state"] != "submitted":
                continue
            a = time.perf_counter()
            await api.call("POST", f"/police/scene-reports/{item['id']}/accept", token)
            side = sides.get(item["id"])
            if side is not None:
                side.accept_call_ms = (time.perf_counter() - a) * 1000
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def begin(page: Any, base: str, api: Api, seed: int) -> tuple[str, str]:
    """Driver 1 opens /scene from the home page's link and starts a report, as a user; driver 2 joins over the
    API with the number and code the phone shows and completes their part. The report's id and driver 1's link."""
    await page.goto(f"{base}/", wait_until="load")
    await page.click("a[href='/scene']")
    await page.wait_for_selector("#go-start", state="visible")
    await page.click("#go-start")
    await page.wait_for_selector("#unit option:checked:not([value=''])", state="attached")
    await page.fill("#place", "杭州市西湖区文三路与学院路口")
    await page.fill("#start-name", DRIVERS[0]["name"])
    await page.fill("#start-phone", DRIVERS[0]["phone"])
    await page.click("#s-start button")
    await page.wait_for_selector("#s-share", state="visible")
    number, code = await page.text_content("#share-number"), await page.text_content("#share-code")
    await other_driver(api, number or "", code or "", seed)
    session = json.loads(await page.evaluate("sessionStorage.getItem('scene-session')"))
    return str(session["report"]), str(session["token"])


async def page_side(page: Any, side: Side, paths: list[Path], person: Path) -> None:
    """The real page, as the driver uses it: each photo chosen on its step (the page downscales and uploads it
    at once), next, the items, the photo with the vehicle, submit."""
    await page.click("#share-next")
    for path in paths:
        await page.wait_for_selector("#photo-env", state="attached")
        await page.set_input_files("#photo-env", str(path))
        await page.wait_for_selector("#photo-next:not([disabled])", timeout=LIMIT_MS)
        await page.click("#photo-next")
    await page.wait_for_selector("#s-items", state="visible")
    await page.fill("#licence", DRIVERS[0]["licence_number"])
    await page.fill("#plate", DRIVERS[0]["plate"])
    await page.fill("#insurer", DRIVERS[0]["insurer"])
    await page.fill("#damaged", DRIVERS[0]["damaged_part"])
    await page.click("#s-items button")
    await page.wait_for_selector("#photo-user", state="attached")
    await page.wait_for_selector("#s-photo", state="visible")
    await page.set_input_files("#photo-user", str(person))
    await page.wait_for_selector("#photo-next:not([disabled])", timeout=LIMIT_MS)
    await page.click("#photo-next")
    await page.wait_for_selector("#complete", state="visible")
    await page.click("#complete")
    await page.wait_for_selector("#state.submitted, #state.accepted", state="attached", timeout=LIMIT_MS)


async def baseline_side(page: Any, side: Side, report_id: str, token: str, paths: list[Path], person: Path) -> None:
    """The same originals, unscaled, with fetch from the same page and scene link; the same calls after."""
    await page.evaluate(HIDDEN_INPUT)
    await page.set_input_files("#bench-photos", [str(p) for p in (*paths, person)])
    items = {"name": DRIVERS[0]["name"], "phone": DRIVERS[0]["phone"], **DRIVERS[0]}
    side.sent = await page.evaluate(
        BASELINE, {"reportId": report_id, "token": token, "items": items, "slots": list(SLOTS[: len(paths)])}
    )
    marks = await page.evaluate("window.__bench.marks")
    t0 = await page.evaluate("window.__bench.t0")
    side.marks.update({k: v - t0 for k, v in marks.items()})


async def run_side(
    browser: Any,
    base: str,
    api: Api,
    officer: str,
    side: Side,
    paths: list[Path],
    person: Path,
    desk: dict[str, Side],
    seed: int,
    cpu_throttle: float,
) -> None:
    context = await browser.new_context(**PHONE, user_agent=MOBILE_UA, locale="zh-CN", timezone_id="Asia/Shanghai")
    try:
        page = await context.new_page()
        side.report_id, token = await begin(page, base, api, seed)  # untimed: on loopback, to keep --quick short
        desk[side.report_id] = side
        cdp = await context.new_cdp_session(page)
        await cdp.send("Network.enable")
        await cdp.send("Network.emulateNetworkConditions", FAST_3G)
        if cpu_throttle > 1:
            await cdp.send("Emulation.setCPUThrottlingRate", {"rate": cpu_throttle})
        await page.evaluate(WATCH)
        if side.mode == "page":
            await page_side(page, side, paths, person)
        else:
            await baseline_side(page, side, side.report_id, token, paths, person)
        await page.wait_for_selector("#state.accepted", state="attached", timeout=LIMIT_MS)
        side.marks["accepted"] = float(await page.evaluate("window.__bench.accepted - window.__bench.t0"))
        side.shown = str(await page.evaluate("window.__bench.shown"))
        if side.mode == "page":  # the marks in the page: each upload's 已上传, #state's first 已提交
            b = await page.evaluate(
                "({t0: window.__bench.t0, c: window.__bench.chosen, s: window.__bench.uploading, "
                "u: window.__bench.uploaded, m: window.__bench.marks})"
            )
            side.marks.update({f"photo{i + 1}": u - b["t0"] for i, u in enumerate(b["u"][: len(paths)])})
            if "submitted" in b["m"]:
                side.marks["submitted"] = b["m"]["submitted"] - b["t0"]
            side.prepare_ms = [s - c for c, s in zip(b["c"], b["s"], strict=False)]
            side.upload_ms = [u - s for s, u in zip(b["s"], b["u"], strict=False)]
    finally:
        await context.close()
    view = await api.call("GET", f"/police/scene-reports/{side.report_id}", officer)
    timed = SLOTS[: len(paths)]
    mine = [p for p in view["photos"] if p.get("driver") == 1 and p.get("slot") in timed]
    side.stored = [int(p["size"]) for p in mine]


async def start_server(data_dir: Path, log_path: Path) -> tuple[asyncio.subprocess.Process, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIATION_")}
    env["MEDIATION_SECRET_KEY"] = secrets.token_hex(24)
    env["MEDIATION_LOG_LEVEL"] = "WARNING"
    env["PYTHONUNBUFFERED"] = "1"
    password = secrets.token_urlsafe(16)
    await run_cli(["--data-dir", str(data_dir), "db", "upgrade"], env, limit_s=60)
    await run_cli(
        ["--data-dir", str(data_dir), "account", "create", "--username", OFFICER, "--kind", "police_officer"]
        + ["--name", "Bench officer", "--organization", UNIT],
        {**env, "MEDIATION_PASSWORD": password},
        limit_s=60,
    )
    proc, url = await spawn_server(data_dir, env, log_path)
    return proc, url, password


def s(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 2)


def summary(sides: dict[str, Side], args: Any, sizes: list[int], big: int, version: str, wall: float) -> dict[str, Any]:
    m, b = sides["page"], sides["original"]
    out: dict[str, Any] = {"bench": "intake", "quick": args.quick, "photos": big, "client": "page /scene"}
    out["photo_px"] = "x".join(map(str, QUICK_PX if args.quick else SIZE))
    out["clock"] = (
        "from the first photo chosen on /scene (the page downscales and uploads each photo as it is chosen) to "
        "the phone showing 已受理 (#state, the page's own 3 s poll); baseline: from the first unscaled upload"
    )
    if big < len(SLOTS):
        out["small_slots"] = list(SLOTS[big:])
    out["submit_to_accepted_s"] = s(m.marks.get("accepted"))
    out["baseline_submit_to_accepted_s"] = s(b.marks.get("accepted"))
    if m.marks.get("accepted") and b.marks.get("accepted"):
        out["ratio"] = round(b.marks["accepted"] / m.marks["accepted"], 2)
    out["photos_done_s"] = s(m.marks.get("photo3"))
    out["baseline_photos_done_s"] = s(b.marks.get("photo3"))
    out["submitted_s"] = s(m.marks.get("submitted"))
    out["baseline_submitted_s"] = s(b.marks.get("submitted"))
    out["bytes_uploaded"] = sum(m.stored)
    out["baseline_bytes_uploaded"] = sum(b.stored)
    out["original_bytes"] = sizes
    up = b.marks.get("photo3")
    if up:
        out["baseline_effective_upload_kbit_s"] = round(sum(b.stored) * 8 / up, 1)
    out["shown"] = m.shown
    out["page_prepare_ms"] = [round(x) for x in m.prepare_ms]
    out["page_upload_ms"] = [round(x) for x in m.upload_ms]
    out["accept_call_ms"] = [None if x.accept_call_ms is None else round(x.accept_call_ms) for x in (m, b)]
    out["downscale"] = "the page's own: longest side 1600 px, JPEG 0.85 (web/static/scene.js)"
    out["phone_poll_ms"] = 3000
    out["officer_poll_ms"] = 100
    out["link"] = {"preset": "Fast 3G (Chrome DevTools)", **FAST_3G}
    out["link_from"] = "the report started (page load and start form on loopback, untimed)"
    out["phone"] = {"viewport": PHONE["viewport"], "mobile": True, "cpu_throttling": args.cpu_throttle}
    out["server"] = "subprocess (python -m server.cli serve), SQLite"
    out["chromium"] = version
    out["cpus"] = os.cpu_count()
    out["wall_s"] = round(wall, 1)
    return out


def write_photos(folder: Path, big: int, size: tuple[int, int] = SIZE) -> tuple[list[Path], Path]:
    """The three scene photos (``big`` of them camera-like 4 MB originals, the rest small) and the photo with the
    vehicle (small)."""
    paths = write_camera_photos(folder, big, size=size)
    for i in range(big, len(SLOTS)):
        path = folder / f"small-{i + 1}.jpg"
        path.write_bytes(small_photo(200 + i))
        paths.append(path)
    person = folder / "person.jpg"
    person.write_bytes(small_photo(300))
    return paths, person


async def main_async(args: argparse.Namespace) -> int:
    from playwright.async_api import async_playwright

    started = time.perf_counter()
    big = 1 if args.quick else 3
    photo_px = QUICK_PX if args.quick else SIZE
    sides = {"page": Side("page"), "original": Side("original")}
    proc: asyncio.subprocess.Process | None = None
    version = ""
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        data_dir = Path(tmp)
        log_path = data_dir / "server.log"
        try:
            server = asyncio.create_task(start_server(data_dir, log_path))
            paths, person = await asyncio.to_thread(write_photos, data_dir, big, photo_px)
            sizes = [p.stat().st_size for p in paths]
            log(f"photos: {', '.join(f'{n / 1e6:.2f} MB' for n in sizes)} ({time.perf_counter() - started:.1f} s)")
            proc, base, password = await server
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
                await wait_healthy(http, base, proc, 60)
                api = Api(http, base)
                login = await api.call("POST", "/auth/login", body={"username": OFFICER, "password": password})
                stop = asyncio.Event()
                desk_sides: dict[str, Side] = {}
                desk = asyncio.create_task(officer_loop(api, login["token"], desk_sides, stop))
                try:
                    async with async_playwright() as pw:
                        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                        version = browser.version
                        try:
                            for n, side in enumerate(sides.values()):
                                log(f"{side.mode}: {big} camera photo(s) over Fast 3G…")
                                await run_side(
                                    browser,
                                    base,
                                    api,
                                    login["token"],
                                    side,
                                    paths,
                                    person,
                                    desk_sides,
                                    100 * n,
                                    args.cpu_throttle,
                                )
                                log(
                                    f"{side.mode}: accepted on the phone at {side.marks['accepted'] / 1000:.2f} s, "
                                    f"{sum(side.stored)} bytes stored ({time.perf_counter() - started:.1f} s)"
                                )
                        finally:
                            await browser.close()
                finally:
                    stop.set()
                    await desk
        except Exception:
            log(f"server log tail:\n{log_tail(log_path)}")
            raise
        finally:
            if proc is not None:
                await stop_process(proc)
    wall = time.perf_counter() - started
    out = summary(sides, args, sizes, big, version, wall)
    print(
        f"bench/intake.py: {big} camera photo(s) per side of {', '.join(f'{n / 1e6:.2f}' for n in sizes[:big])} MB "
        f"(4000x3000, q92){'' if big == 3 else ' + small ones for ' + ', '.join(SLOTS[big:])}; emulated Fast 3G "
        f"(latency {FAST_3G['latency']} ms, down 1.44 Mbit/s, up 675 kbit/s); Chromium {version}, 360x740 mobile; "
        f"phone CPU throttled {args.cpu_throttle:g}x; {os.cpu_count()} CPUs; seconds after the first photo was chosen"
    )
    print()
    header = f"{'side':<34}" + "".join(f"{f'photo {i + 1}':>9}" for i in range(len(SLOTS)))
    print(header + f"{'submitted':>11}{'accepted':>10}{'bytes up':>11}")
    print("-" * (len(header) + 32))
    for label, side in (
        ("/scene (downscaled on the phone)", sides["page"]),
        ("baseline: originals unscaled", sides["original"]),
    ):
        marks = "".join(f"{side.marks.get(f'photo{i + 1}', 0) / 1000:>9.2f}" for i in range(len(SLOTS)))
        print(
            f"{label:<34}{marks}{side.marks.get('submitted', 0) / 1000:>11.2f}"
            f"{side.marks.get('accepted', 0) / 1000:>10.2f}{sum(side.stored):>11}"
        )
    page = sides["page"]
    if page.prepare_ms:
        print()
        print(
            "/scene per photo chosen (the three scene photos, then the photo with the vehicle): "
            + "; ".join(
                f"prepare {p / 1000:.2f} s + upload {u / 1000:.2f} s"
                for p, u in zip(page.prepare_ms, page.upload_ms, strict=False)
            )
        )
    print()
    print(json.dumps(out, ensure_ascii=False))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="one 1 MB (2000x1500) camera photo per side (and two small ones)"
    )
    parser.add_argument(
        "--cpu-throttle",
        type=float,
        default=1.0,
        help="slow the phone's CPU N times (CDP Emulation.setCPUThrottlingRate; DevTools' mid-tier phone: 4)",
    )
    args = parser.parse_args()
    if not 1 <= args.cpu_throttle <= 20:
        parser.error("--cpu-throttle is 1 to 20")
    if not Path(CHROMIUM).exists():
        log(f"bench/intake.py: Chromium not found at {CHROMIUM} (apt-get install chromium)")
        return 2
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
