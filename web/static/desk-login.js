// The staff desks' session (/appraisal, /bureau, /fund, /insurer, /police): the token kept in sessionStorage
// "mediation-token", the JSON API called with it, stored files fetched with it, and the login and logout forms
// (#login with #username and #password, the #logout button).
const KEY = "mediation-token";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem(KEY);

export const deskToken = () => token;

export async function api(method, path, body, type = "application/json") {
  const res = await fetch(path, {
    method,
    headers: { ...(token ? { Authorization: "Bearer " + token } : {}), ...(body ? { "Content-Type": type } : {}) },
    body: body ? (type === "application/json" ? JSON.stringify(body) : body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw data;
  return data;
}

// A stored file fetched with the token: its blob, or null when refused.
export async function fetchBlob(path) {
  const res = await fetch(path, { headers: { Authorization: "Bearer " + token } });
  return res.ok ? res.blob() : null;
}

// Save a stored file under its title; false when refused.
export async function download(path, title) {
  const blob = await fetchBlob(path);
  if (!blob) return false;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = title;
  link.click();
  return true;
}

// The desk could not be loaded: a session the server no longer knows is forgotten.
export function forgetIfExpired(err) {
  if (err && ["unauthenticated", "token_expired", "token_revoked"].includes(err.code)) { token = null; sessionStorage.removeItem(KEY); }
}

// Wire the login form and the logout button, and open the desk at once when a session is kept.
// open(): load the desk; close(): hide it (the login form shows again); status(text): where a refusal is said.
export function mountLogin({ open, close, status, said }) {
  $("login").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const res = await api("POST", "/api/v1/auth/login", { username: $("username").value, password: $("password").value });
      token = res.token;
      sessionStorage.setItem(KEY, token);
      status("");
      await open();
    } catch (err) { status(said(err, "登录失败。 Login failed.")); }
  });
  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/v1/auth/logout"); } catch { /* gone either way */ }
    token = null; sessionStorage.removeItem(KEY); close(); $("login").hidden = false;
  });
  if (token) open(); else $("login").hidden = false;
}
