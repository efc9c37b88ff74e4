"""Signing throughput: full PAdES B-T signatures per second on one core, against the raw ECDSA P-256 rate.

Set-up, outside the measurement: the platform CA and its TSA (keys in memory, as a running server holds
them), a two-page agreement built by ``DocumentBuilder`` with one signature block whose field is prepared
(``prepare_signature_fields``), and a 420 x 160 PNG scribble as the handwritten mark.

Measured, in this process, pinned to one CPU (``os.sched_setaffinity``) and on one event loop:

* ``pades``: ``e_sign.pades.async_sign_pdf`` on that agreement, N times (each from the unsigned
  document, so every run does the same work): a fresh P-256 key and event certificate, the appearance
  image, pyHanko's incremental update with the signing-certificate-v2 attribute and a signature
  time-stamp from the TSA asked in process (``InProcessTimeStamper``), the output bytes. Every tenth
  output is checked with ``e_sign.verify`` after the clock stops (one is always checked);
* the cost split, from the timings ``async_sign_pdf`` reports: certificate issuance, appearance, the
  time-stamp (the TSA's whole answer: request parsing, TSTInfo, its ECDSA signature, DER), and the rest
  of pyHanko (reading the PDF, writing the incremental update, hashing, the CMS);
* the limit: ``openssl speed -seconds 3 ecdsap256`` (its "sign/s" for nistp256, one core), run in the
  same invocation, and the same ECDSA P-256 / SHA-256 signature through ``cryptography`` from Python.

The rates are per CPU second (``time.process_time()``); the wall-clock rate is printed too. One PAdES
signature makes three ECDSA signatures (the CA's on the certificate, the signer's, the TSA's) and one key
(about the cost of a signature), so the ECDSA-bound ceiling is about a quarter of openssl's sign/s; the rest
is Python. The last line printed is one JSON object.

    .venv/bin/python bench/signing.py --quick
    .venv/bin/python bench/signing.py --signatures 2000
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from e_sign.ca import PlatformCA, SignerIdentity, generate_key  # noqa: E402
from e_sign.pades import SigningTimes, async_sign_pdf, prepare_signature_fields  # noqa: E402
from e_sign.tsa import InProcessTimeStamper, TimestampAuthority  # noqa: E402
from e_sign.verify import verify_pdf  # noqa: E402
from server.documents.pdf import DocumentBuilder, SignatureBox  # noqa: E402

BEIJING = timezone(timedelta(hours=8))
TARGET_PER_S = 50.0


def agreement() -> tuple[bytes, SignatureBox]:
    with DocumentBuilder("调解协议书", created_at=datetime.now(BEIJING), case_number="（2026）京0105民调1号") as b:
        b.heading("一、事实")
        b.paragraph("2026年3月1日8时许，被申请人投保的小型轿车与申请人驾驶的电动自行车发生碰撞。" * 8)
        b.page_break()
        b.heading("二、协议内容")
        b.paragraph("被申请人于本协议生效之日起十五日内向申请人支付赔偿款共计人民币 86,400.00 元。")
        box = b.signature_block("applicant", "申请人 张三")
        data = b.render()
    return prepare_signature_fields(data, [box]), box


def scribble() -> bytes:
    image = Image.new("RGBA", (420, 160), (0, 0, 0, 0))
    ImageDraw.Draw(image).line(
        [(15 + i * 40, 120 - (i * 37 % 90)) for i in range(10)], fill=(15, 30, 120, 255), width=7
    )
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def openssl_speed(seconds: int) -> tuple[float | None, str]:
    """openssl's ECDSA P-256 sign/s on one core, and the line it came from."""
    if shutil.which("openssl") is None:
        return None, "openssl not installed"
    done = subprocess.run(
        ["openssl", "speed", "-seconds", str(seconds), "ecdsap256"], capture_output=True, text=True, timeout=120
    )
    for line in done.stdout.splitlines():
        # " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  50810.2  15997.0"
        match = re.match(r"\s*256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", line)
        if match:
            return float(match.group(1)), line.strip()
    lines = (done.stdout + done.stderr).strip().splitlines()
    return None, lines[-1] if lines else f"openssl speed exited with {done.returncode}"


def python_ecdsa_rate(seconds: float) -> float:
    key = generate_key()
    data = os.urandom(200)
    n, cpu0 = 0, time.process_time()
    while time.process_time() - cpu0 < seconds:
        for _ in range(200):
            key.sign(data, ec.ECDSA(hashes.SHA256()))
        n += 200
    return n / (time.process_time() - cpu0)


async def run_pades(
    pdf: bytes, box: SignatureBox, ca: PlatformCA, stamper: InProcessTimeStamper, mark: bytes, count: int
) -> tuple[float, float, list[SigningTimes], list[bytes]]:
    identity = SignerIdentity("participant-applicant", "张三", "（2026）京0105民调1号", "申请人")
    times: list[SigningTimes] = []
    kept: list[bytes] = []

    async def once(record: list[SigningTimes]) -> bytes:
        return await async_sign_pdf(
            pdf,
            field_name=box.field_name,
            page=box.page,
            box=box.box,
            signer=identity,
            ca=ca,
            timestamper=stamper,
            mark_png=mark,
            reason="本人已阅读并同意本调解协议",
            location="在线调解平台",
            now=datetime.now(BEIJING),
            times=record,
        )

    for _ in range(3):  # warm-up: font loading, first-use caches
        await once([])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(count):
        out = await once(times)
        if i % 10 == 0:
            kept.append(out)
    return time.process_time() - cpu0, time.perf_counter() - wall0, times, kept


def pin_one_cpu() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned"
    cpu = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def main_run(args: argparse.Namespace) -> int:
    pinned = pin_one_cpu() if args.pin else "not pinned"
    now = datetime.now(UTC)
    ca = PlatformCA.create(now)
    tsa_key = generate_key()
    tsa = TimestampAuthority(
        tsa_key, ca.issue_tsa(tsa_key.public_key(), now), [ca.certificate], lambda: datetime.now(UTC)
    )
    stamper = InProcessTimeStamper(tsa)
    pdf, box = agreement()
    mark = scribble()
    print(
        f"bench/signing.py: {args.signatures} PAdES B-T signatures of a 2-page agreement ({len(pdf) / 1000:.1f} kB), "
        f"in-process TSA, {pinned}, {os.cpu_count()} CPUs",
        flush=True,
    )

    cpu, wall, times, kept = asyncio.run(run_pades(pdf, box, ca, stamper, mark, args.signatures))
    checked = [verify_pdf(out, [ca.certificate]) for out in kept]
    if not all(r.ok for r in checked):
        bad = next(r for r in checked if not r.ok)
        raise RuntimeError(f"a benchmark signature does not verify: {bad.reasons}")
    rate = args.signatures / cpu
    wall_rate = args.signatures / wall
    split = {
        name: statistics.mean(getattr(t, name) for t in times) * 1000
        for name in ("certificate", "appearance", "timestamp", "pdf")
    }
    split["pyhanko"] = split["pdf"] - split["timestamp"]
    per_sig_ms = cpu / args.signatures * 1000
    signed_size = len(kept[0]) - len(pdf)

    openssl_rate, openssl_line = openssl_speed(args.openssl_seconds)
    py_rate = python_ecdsa_rate(min(3.0, float(args.openssl_seconds)))

    header = f"{'engine':<44}{'per s':>10}{'ms each':>10}  note"
    print(header)
    print("-" * len(header))
    print(
        f"{'PAdES B-T (e_sign.pades, in-process TSA)':<44}{rate:>10.1f}{per_sig_ms:>10.2f}  "
        f"per CPU second; wall {wall_rate:.1f}/s; +{signed_size / 1000:.1f} kB a signature; "
        f"{len(kept)} checked with e_sign.verify; target {TARGET_PER_S:g}/s"
    )
    if openssl_rate is not None:
        print(
            f"{'ECDSA P-256 sign, openssl speed (limit)':<44}{openssl_rate:>10.1f}{1000 / openssl_rate:>10.4f}  "
            f"-seconds {args.openssl_seconds}; a PAdES signature makes 3 ECDSA signatures + 1 key -> "
            f"ceiling ~{openssl_rate / 4:.0f}/s"
        )
    else:
        print(f"{'ECDSA P-256 sign, openssl speed (limit)':<44}{'-':>10}{'-':>10}  {openssl_line}")
    print(
        f"{'ECDSA P-256 sign, cryptography from Python':<44}{py_rate:>10.1f}{1000 / py_rate:>10.4f}  same curve and hash"
    )
    print("cost split of one signature (mean ms, wall):")
    print(f"  certificate issuance (fresh key + event certificate)  {split['certificate']:8.3f}")
    print(f"  appearance image (Pillow)                             {split['appearance']:8.3f}")
    print(f"  time-stamp (TSA respond, in process)                  {split['timestamp']:8.3f}")
    print(f"  pyHanko incremental write, CMS, hashing               {split['pyhanko']:8.3f}")
    if openssl_rate is not None:
        print(
            f"PAdES / raw openssl ECDSA: {rate / openssl_rate:.4f} "
            f"(one PAdES signature costs {openssl_rate / rate:.0f} openssl ECDSA signatures)"
        )
    print(
        json.dumps(
            {
                "bench": "signing",
                "quick": args.quick,
                "signatures": args.signatures,
                "pades_per_s": round(rate, 1),
                "pades_wall_per_s": round(wall_rate, 1),
                "pades_ms": round(per_sig_ms, 3),
                "target_per_s": TARGET_PER_S,
                "openssl_ecdsap256_sign_per_s": openssl_rate,
                "openssl_seconds": args.openssl_seconds,
                "python_ecdsap256_sign_per_s": round(py_rate, 1),
                "ratio_to_openssl": round(rate / openssl_rate, 5) if openssl_rate else None,
                "split_ms": {k: round(v, 3) for k, v in split.items()},
                "bytes_added_per_signature": signed_size,
                "pdf_bytes": len(pdf),
                "verified": len(kept),
                "pinned": pinned,
                "cpus": os.cpu_count(),
            }
        )
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 signatures (well under a minute)")
    parser.add_argument("--signatures", type=int, default=1000, help="PAdES signatures to time (default 1000)")
    parser.add_argument("--openssl-seconds", type=int, default=3, help="openssl speed -seconds (default 3)")
    parser.add_argument(
        "--pin", action=argparse.BooleanOptionalAction, default=True, help="pin this process to one CPU (default on)"
    )
    args = parser.parse_args()
    if args.quick:
        args.signatures = 200
    return main_run(args)


if __name__ == "__main__":
    raise SystemExit(main())
