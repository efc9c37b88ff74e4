"""Camera-like JPEGs for the benchmarks: 4000×3000, random but seeded, about 4 MB at quality 92.

A low-frequency colour field (a 40×30 random image upscaled bicubically), 60 flat rectangles (edges, as in a
street scene) and Gaussian sensor noise: the noise is what makes a camera original weigh what it does, so its
strength decides the size (sigma 9 gives about 4.0 MB at quality 92 with Pillow's encoder).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZE = (4000, 3000)
QUALITY = 92
NOISE_SIGMA = 9.0


def camera_jpeg(seed: int, size: tuple[int, int] = SIZE, sigma: float = NOISE_SIGMA, quality: int = QUALITY) -> bytes:
    """One camera-like JPEG, the same bytes for the same arguments."""
    rng = np.random.default_rng(seed)
    width, height = size
    low = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    img = Image.fromarray(low, "RGB").resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = (int(v) for v in rng.integers(50, 900, 2))
        draw.rectangle((x, y, x + w, y + h), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    if sigma > 0:
        pixels = np.asarray(img, dtype=np.int16) + rng.normal(0, sigma, (height, width, 3)).astype(np.int16)
        img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def write_camera_photos(folder: Path, count: int, seed: int = 15, size: tuple[int, int] = SIZE) -> list[Path]:
    """``count`` camera-like JPEGs ``photo-1.jpg``… in ``folder`` (seeds ``seed``, ``seed + 1``…) of ``size``."""
    paths = []
    for i in range(count):
        path = folder / f"photo-{i + 1}.jpg"
        path.write_bytes(camera_jpeg(seed + i, size=size))
        paths.append(path)
    return paths
