"""Scene report intake over an emulated 3G phone link: from the driver's submit to "accepted" on the phone.

The real server runs in its own process (``python -m server.cli serve`` on 127.0.0.1, fresh SQLite data
folder) with a police unit and one officer (``server.cli account create --kind police_officer --organization
…``: an account kind only police units hold makes the new organisation a police unit).

The photos: three camera-like JPEGs, 4000×3000, about 4 MB each at quality 92 (``bench/support/photos.py``:
random but seeded), written once per run into the temporary folder.

The phone: Debian's ``/usr/bin/chromium`` through Playwright, 360×740, mobile, touch, an Android user agent,
its link emulated with CDP ``Network.emulateNetworkConditions`` as Chrome DevTools' "Fast 3G" preset (latency
562.5 ms, download 1.6 Mbit/s × 0.9, upload 750 kbit/s × 0.9 = 84 375 bytes/s). Only this phone's page is
throttled; the bench's own HTTP calls (the officer, the other driver) run on loopback.

Each side (measured, then baseline) is a fresh scene report: driver 1 starts it and driver 2 joins over the
public API; driver 2 gives their items and four small photos and completes before the clock starts; driver 1's
items and the photo of the driver with the vehicle (人车合影, one of the five items, a 1600×1200 JPEG) are
given before the clock starts, the same on both sides (with ``--quick``, one timed photo per side, the rear and
collision slots too, as small photos). Timed, in the phone page with ``performance.now()``:
the three photos are chosen in a real ``<input type=file>`` (Playwright ``set_input_files``), then the clock
starts at the press of submit and the page, for each photo: hashes the original (SHA-256, WebCrypto), and

- measured: downscales it as the phone page does (``createImageBitmap`` → ``OffscreenCanvas``, longest side
  ``--max-side`` px, ``convertToBlob`` JPEG at ``--quality``) and uploads the result;
- baseline: uploads the original unscaled, the same way, to the same endpoint with the same scene link;

then it completes its part (both parts complete: submitted) and polls its report every ``--poll-ms`` until
it reads ``accepted`` (已受理): the clock stops there. The bench officer polls the unit's queue every 100 ms
over the API and accepts each submitted report at once. Bytes uploaded: the sizes the server stored for
driver 1's three photos (from the officer's view), checked against what the page sent.

The phone page ``/scene`` (web/static/scene.js) is being built by another stage; until it lands the page
steps above run as a harness in the site's own origin (the index page), doing what the phone page is meant
to do, and the JSON says ``"client": "harness"``.

    .venv/bin/python bench/intake.py --quick      # one photo per side (the unscaled one alone takes ~50 s)
    .venv/bin/python bench/intake.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from support.photos import camera_jpeg, write_camera_photos  # noqa: E402
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

PAGE_SUBMIT = """
async ({reportId, token, mode, maxSide, quality, pollMs, slots, limitMs}) => {
  const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const auth = {Authorization: `Bearer ${token}`};
  const files = [...document.getElementById("bench-photos").files];
  const t0 = performance.now();
  const marks = {}, sent = [], scale = [];
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    const a = performance.now();
    const hash = hex(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
    let body = file;
    if (mode === "scaled") {
      const bmp = await createImageBitmap(file);
      const k = Math.min(1, maxSide / Math.max(bmp.width, bmp.height));
      const w = Math.round(bmp.width * k), h = Math.round(bmp.height * k);
      const canvas = new OffscreenCanvas(w, h);
      canvas.getContext("2d").drawImage(bmp, 0, 0, w, h);
      bmp.close();
      body = await canvas.convertToBlob({type: "image/jpeg", quality});
    }
    scale.push(performance.now() - a);
    const q = new URLSearchParams({slot: slots[i], original_sha256: hash, original_size: String(file.size),
                                   captured_at: new Date(file.lastModified).toISOString()});
    const r = await fetch(`/api/v1/scene-reports/${reportId}/photos?${q}`,
                          {method: "POST", headers: {...auth, "Content-Type": "image/jpeg"}, body});
    if (r.status !== 201) throw new Error(`photo ${i + 1}: ${r.status} ${await r.text()}`);
    sent.push(body.size);
    marks[`photo${i + 1}`] = performance.now() - t0;
  }
  const done = await fetch(`/api/v1/scene-reports/${reportId}/complete`, {method: "POST", headers: auth});
  if (!done.ok) throw new Error(`complete: ${done.status} ${await done.text()}`);
  marks.submitted = performance.now() - t0;
  let polls = 0;
  for (;;) {
    const r = await fetch(`/api/v1/scene-reports/${reportId}`, {headers: auth, cache: "no-store"});
    polls++;
    const report = await r.json();
    if (report.state === "accepted") {
      marks.accepted = performance.now() - t0;
      document.getElementById("bench-state").textContent = report.state_name || "已受理";
      break;
    }
    if (performance.now() - t0 > limitMs) throw new Error(`still ${report.state} after ${limitMs} ms`);
    await new Promise((ok) => setTimeout(ok, pollMs));
  }
  return {marks, sent, scale, polls};
}
"""

PAGE_HARNESS = """
() => {
  const input = document.createElement("input");
  input.type = "file"; input.id = "bench-photos"; input.multiple = true; input.accept = "image/*";
  const state = document.createElement("p");
  state.id = "bench-state";
  document.body.append(input, state);
}
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Side:
    """One side of the run: a fresh report, its timings and bytes."""

    mode: str  # "scaled" (measured) or "original" (baseline)
    report_id: str = ""
    marks: dict[str, float] = field(default_factory=dict)
    sent: list[int] = field(default_factory=list)
    stored: list[int] = field(default_factory=list)
    scale_ms: list[float] = field(default_factory=list)
    polls: int = 0
    submitted_seen_s: float | None = None
    accepted_call_ms: float | None = None


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


async def upload_small(api: Api, report_id: str, token: str, slot: str, seed: int) -> None:
    import hashlib

    data = camera_jpeg(seed, size=(1600, 1200), sigma=0, quality=80)
    await api.call(
        "POST",
        f"/scene-reports/{report_id}/photos",
        token,
        data=data,
        slot=slot,
        original_sha256=hashlib.sha256(data).hexdigest(),
        original_size=str(len(data)),
    )


async def prepare_report(api: Api, unit_id: str, side: int, timed: int) -> tuple[str, str]:
    """A report with driver 2 completed and driver 1's items and 人车合影 given (and, with fewer than three timed
    photos, the scene slots not timed, as small photos): its id and driver 1's token."""
    started = await api.call(
        "POST",
        "/public/scene-reports",
        body={
            "police_unit_id": unit_id,
            "occurred_at": datetime.now(UTC).isoformat(),
            "place": "杭州市西湖区文三路与学院路口",
            "name": DRIVERS[0]["name"],
            "phone": DRIVERS[0]["phone"],
        },
    )
    report_id = started["report"]["id"]
    joined = await api.call(
        "POST",
        "/public/scene-reports/join",
        body={
            "number": started["report"]["number"],
            "code": started["join_code"],
            "name": DRIVERS[1]["name"],
            "phone": DRIVERS[1]["phone"],
        },
    )
    one, two = started["token"], joined["token"]
    await api.call("PUT", f"/scene-reports/{report_id}/items", two, body=DRIVERS[1])
    for i, slot in enumerate((*SLOTS, "driver_with_vehicle")):
        await upload_small(api, report_id, two, slot, 100 * side + i)
    await api.call("POST", f"/scene-reports/{report_id}/complete", two)
    await api.call("PUT", f"/scene-reports/{report_id}/items", one, body=DRIVERS[0])
    for i, slot in enumerate((*SLOTS[timed:], "driver_with_vehicle")):
        await upload_small(api, report_id, one, slot, 100 * side + 50 + i)
    return report_id, one


async def officer_loop(api: Api, token: str, sides: dict[str, Side], stop: asyncio.Event) -> None:
    """Poll the desk's queue every 100 ms; accept each submitted report at once."""
    while not stop.is_set():
        queue = await api.call("GET", "/police/scene-reports", token)
        for item in queue["reports"]:
            if item["state"] != "submitted":
                continue
            side = sides.get(item["id"])
            if side is not None and side.submitted_seen_s is None:
                side.submitted_seen_s = time.perf_counter()
            a = time.perf_counter()
            await api.call("POST", f"/police/scene-reports/{item['id']}/accept", token)
            if side is not None:
                side.accepted_call_ms = (time.perf_counter() - a) * 1000
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def run_side(
    browser: Any,
    base: str,
    api: Api,
    unit_id: str,
    officer: str,
    side: Side,
    paths: list[Path],
    args: Any,
    desk: dict[str, Side],
) -> None:
    index = 1 if side.mode == "scaled" else 2
    side.report_id, token = await prepare_report(api, unit_id, index, len(paths))
    desk[side.report_id] = side
    context = await browser.new_context(**PHONE, user_agent=MOBILE_UA)
    try:
        page = await context.new_page()
        await page.goto(f"{base}/", wait_until="load")
        cdp = await context.new_cdp_session(page)
        await cdp.send("Network.enable")
        await cdp.send("Network.emulateNetworkConditions", FAST_3G)
        await page.evaluate(PAGE_HARNESS)
        await page.set_input_files("#bench-photos", [str(p) for p in paths])
        limit_ms = (sum(p.stat().st_size for p in paths) / FAST_3G["uploadThroughput"] * 2 + 120) * 1000
        out = await page.evaluate(
            PAGE_SUBMIT,
            {
                "reportId": side.report_id,
                "token": token,
                "mode": side.mode,
                "maxSide": args.max_side,
                "quality": args.quality,
                "pollMs": args.poll_ms,
                "slots": list(SLOTS[: len(paths)]),
                "limitMs": limit_ms,
            },
        )
        side.marks, side.sent, side.scale_ms, side.polls = out["marks"], out["sent"], out["scale"], out["polls"]
        shown = await page.text_content("#bench-state")
        if not shown:
            raise RuntimeError("the phone does not show the accepted state")
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


def summary(sides: dict[str, Side], args: Any, photos: list[int], version: str, wall: float) -> dict[str, Any]:
    m, b = sides["scaled"], sides["original"]
    out: dict[str, Any] = {"bench": "intake", "quick": args.quick, "photos": len(photos), "client": "harness"}
    out["clock"] = "from the press of submit (the photos already chosen) to the phone reading accepted"
    if len(photos) < len(SLOTS):
        out["untimed_slots"] = list(SLOTS[len(photos) :])
    out["submit_to_accepted_s"] = s(m.marks.get("accepted"))
    out["baseline_submit_to_accepted_s"] = s(b.marks.get("accepted"))
    if m.marks.get("accepted") and b.marks.get("accepted"):
        out["ratio"] = round(b.marks["accepted"] / m.marks["accepted"], 2)
    out["uploads_done_s"] = s(m.marks.get(f"photo{len(photos)}"))
    out["baseline_uploads_done_s"] = s(b.marks.get(f"photo{len(photos)}"))
    out["submitted_s"] = s(m.marks.get("submitted"))
    out["baseline_submitted_s"] = s(b.marks.get("submitted"))
    out["bytes_uploaded"] = sum(m.stored)
    out["baseline_bytes_uploaded"] = sum(b.stored)
    out["bytes_sent_by_page"] = sum(m.sent)
    out["baseline_bytes_sent_by_page"] = sum(b.sent)
    out["original_bytes"] = photos
    out["downscale_ms"] = [round(x) for x in m.scale_ms]
    out["baseline_hash_ms"] = [round(x) for x in b.scale_ms]
    up = b.marks.get(f"photo{len(photos)}")
    if up:
        out["baseline_effective_upload_kbit_s"] = round(sum(b.sent) * 8 / up, 1)
    out["phone_polls"] = [m.polls, b.polls]
    out["accept_call_ms"] = [None if x.accepted_call_ms is None else round(x.accepted_call_ms) for x in (m, b)]
    out["max_side"] = args.max_side
    out["jpeg_quality"] = args.quality
    out["poll_ms"] = args.poll_ms
    out["officer_poll_ms"] = 100
    out["link"] = {"preset": "Fast 3G (Chrome DevTools)", **FAST_3G}
    out["phone"] = {"viewport": PHONE["viewport"], "mobile": True, "cpu_throttling": None}
    out["server"] = "subprocess (python -m server.cli serve), SQLite"
    out["chromium"] = version
    out["cpus"] = os.cpu_count()
    out["wall_s"] = round(wall, 1)
    return out


async def main_async(args: argparse.Namespace) -> int:
    from playwright.async_api import async_playwright

    started = time.perf_counter()
    count = 1 if args.quick else 3
    sides = {"scaled": Side("scaled"), "original": Side("original")}
    proc: asyncio.subprocess.Process | None = None
    version = ""
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        data_dir = Path(tmp)
        log_path = data_dir / "server.log"
        try:
            server = asyncio.create_task(start_server(data_dir, log_path))
            paths = await asyncio.to_thread(write_camera_photos, data_dir, count)
            sizes = [p.stat().st_size for p in paths]
            log(f"photos: {', '.join(f'{n / 1e6:.2f} MB' for n in sizes)} ({time.perf_counter() - started:.1f} s)")
            proc, base, password = await server
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
                await wait_healthy(http, base, proc, 60)
                api = Api(http, base)
                officer = (await api.call("POST", "/auth/login", body={"username": OFFICER, "password": password}))[
                    "token"
                ]
                units = (await api.call("GET", "/public/police-units"))["units"]
                unit_id = next(u["id"] for u in units if u["name"] == UNIT)
                stop = asyncio.Event()
                desk_sides: dict[str, Side] = {}
                desk = asyncio.create_task(officer_loop(api, officer, desk_sides, stop))
                try:
                    async with async_playwright() as pw:
                        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                        version = browser.version
                        try:
                            for side in sides.values():
                                log(f"{side.mode}: {count} photo(s) over Fast 3G…")

                                await run_side(browser, base, api, unit_id, officer, side, paths, args, desk_sides)
                                log(
                                    f"{side.mode}: accepted on the phone at {side.marks['accepted'] / 1000:.2f} s, "
                                    f"{sum(side.stored)} bytes stored"
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
    out = summary(sides, args, sizes, version, wall)
    m, b = sides["scaled"], sides["original"]
    print(
        f"bench/intake.py: {count} photo(s) of {', '.join(f'{n / 1e6:.2f}' for n in sizes)} MB (4000x3000, q92) "
        f"per side over emulated Fast 3G (latency {FAST_3G['latency']} ms, down 1.44 Mbit/s, up 675 kbit/s); "
        f"Chromium {version}, 360x740 mobile; {os.cpu_count()} CPUs; clock from submit to the phone reading accepted"
    )
    print()
    header = f"{'side':<28}" + "".join(f"{f'photo {i + 1} s':>11}" for i in range(count))
    print(header + f"{'submitted s':>13}{'accepted s':>12}{'bytes up':>12}{'polls':>7}")
    print("-" * (len(header) + 44))
    for label, side in (
        (f"downscaled (<= {args.max_side} px, q{args.quality})", m),
        ("baseline: originals unscaled", b),
    ):
        marks = "".join(f"{side.marks.get(f'photo{i + 1}', 0) / 1000:>11.2f}" for i in range(count))
        print(
            f"{label:<28}{marks}{side.marks.get('submitted', 0) / 1000:>13.2f}"
            f"{side.marks.get('accepted', 0) / 1000:>12.2f}{sum(side.stored):>12}{side.polls:>7}"
        )
    print()
    print(json.dumps(out, ensure_ascii=False))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one photo per side instead of three")
    parser.add_argument("--max-side", type=int, default=1600, help="the downscaled photo's longest side (px)")
    parser.add_argument("--quality", type=float, default=0.82, help="the downscaled JPEG's quality (0-1)")
    parser.add_argument("--poll-ms", type=int, default=1000, help="how often the phone reads its report (ms)")
    args = parser.parse_args()
    if not 320 <= args.max_side <= 4000 or not 0.1 <= args.quality <= 1 or not 100 <= args.poll_ms <= 10000:
        parser.error("--max-side 320-4000, --quality 0.1-1, --poll-ms 100-10000")
    if not Path(CHROMIUM).exists():
        log(f"bench/intake.py: Chromium not found at {CHROMIUM} (apt-get install chromium)")
        return 2
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
