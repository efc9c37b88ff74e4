// A personal link carries its token in the URL's fragment (/join#token=…), which browsers never
// send to the server. The page reads it once, keeps it in this tab's sessionStorage (so a reload
// still works) and takes it out of the address bar with history.replaceState, so that it is not
// left on screen, in the history, in a bookmark or in a screenshot.

export const LINK = "mediation-link";        // a party's join link (the join, sign and playback pages)
export const SERVED = "mediation-served";    // a service recipient's personal link (the served page)

export function takeLinkToken(key = LINK) {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const arrived = params.get("token");
  if (arrived) {
    sessionStorage.setItem(key, arrived);
    params.delete("token");
    const rest = params.toString();
    window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search + (rest ? "#" + rest : ""));
  }
  // another link opened in this tab changes only the fragment, which does not load the page again
  window.addEventListener("hashchange", () => {
    if (new URLSearchParams(window.location.hash.slice(1)).get("token")) window.location.reload();
  });
  return arrived || sessionStorage.getItem(key);
}

// The JSON API with a link's token (a party's join link, a driver's scene link): api(method, path, body); a refusal
// throws its problem body.
export function linkApi(token) {
  return async (method, path, body) => {
    const res = await fetch(path, {
      method,
      headers: { Authorization: "Bearer " + token, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw data;
    return data;
  };
}
