// A document as page images (the server draws them: phones do not show PDFs inline).
// Images load as they come near the screen; onLastSeen runs once the last page has loaded.

export async function authorised(url, token) {
  const res = await fetch(url, { headers: { Authorization: "Bearer " + token } });
  if (!res.ok) throw await res.json().catch(() => ({}));
  return res;
}

export async function blobUrl(url, token) {
  return URL.createObjectURL(await (await authorised(url, token)).blob());
}

// pagesUrl answers {pages: [{number, width_pt, height_pt}]}; pageUrl(n, width) is one page's PNG.
export async function showPages(box, token, pagesUrl, pageUrl, onLastSeen = () => {}) {
  const { pages } = await (await authorised(pagesUrl, token)).json();
  box.replaceChildren();
  // a width the server caches: the column's device pixels, in steps of 120
  const pixels = Math.round(box.clientWidth * (window.devicePixelRatio || 1) / 120) * 120;
  const width = Math.max(240, Math.min(1600, pixels || 720));
  const seen = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const img = entry.target;
      seen.unobserve(img);
      blobUrl(pageUrl(img.dataset.page, width), token)
        .then((url) => { img.src = url; img.classList.add("loaded"); if (img.dataset.last) onLastSeen(); })
        .catch(() => { img.alt = "此页无法显示 This page could not be shown"; });
    }
  }, { rootMargin: "200px 0px" });
  for (const p of pages) {
    const img = document.createElement("img");
    img.className = "page";
    img.dataset.page = p.number;
    if (p.number === pages.length) img.dataset.last = "1";
    img.alt = `第 ${p.number} 页，共 ${pages.length} 页 Page ${p.number} of ${pages.length}`;
    img.style.aspectRatio = `${p.width_pt} / ${p.height_pt}`;
    box.append(img);
    seen.observe(img);
  }
  return pages.length;
}
