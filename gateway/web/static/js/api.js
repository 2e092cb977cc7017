// The console's only door to the server: the public API under /api/v1.
// The access token lives in memory and sessionStorage (this tab only), never in a URL.

const KEY = "casework.session";
export const BASE = "/api/v1";

let session = load();
const listeners = new Set();

function load() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
    if (saved && saved.expiresAt > Date.now()) return saved;
  } catch {
    /* a broken entry is as good as none */
  }
  sessionStorage.removeItem(KEY);
  return null;
}

function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch {
    return {};
  }
}

function store(tokens, username) {
  const c = claims(tokens.access_token);
  session = {
    token: tokens.access_token,
    refresh: tokens.refresh_token || (session && session.refresh) || null,
    expiresAt: Date.now() + (tokens.expires_in || 900) * 1000,
    user: c.sub || username,
    name: username || (session && session.name) || c.sub,
    roles: c.roles || [],
  };
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export const current = () => session;
export const hasRole = (...roles) => !!session && roles.some((r) => session.roles.includes(r));
export const onSignOut = (fn) => listeners.add(fn);

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
  get fields() {
    return this.problem.errors || [];
  }
}

export async function signIn(username, password) {
  const response = await fetch(`${BASE}/auth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ username, password }),
    credentials: "omit",
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body);
  store(body, username);
  return session;
}

export async function signOut(reason = "") {
  const old = session;
  session = null;
  sessionStorage.removeItem(KEY);
  if (old && caps.has("POST", "/auth/revoke")) {
    fetch(`${BASE}/auth/revoke`, {
      method: "POST",
      headers: { Authorization: `Bearer ${old.token}`, "Content-Type": "application/json" },
      body: JSON.stringify(old.refresh ? { token: old.refresh } : { token: old.token }),
    }).catch(() => {});
  }
  for (const fn of listeners) fn(reason);
}

let refreshing = null;
async function refresh() {
  if (!session || !session.refresh || !caps.has("POST", "/auth/refresh")) return false;
  refreshing ||= fetch(`${BASE}/auth/refresh`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: session.refresh }),
  })
    .then(async (r) => (r.ok ? (store(await r.json()), true) : false))
    .catch(() => false)
    .finally(() => (refreshing = null));
  return refreshing;
}

export function authHeaders(extra = {}) {
  return session ? { ...extra, Authorization: `Bearer ${session.token}` } : extra;
}

// api("/cases/1", {method, body, ifMatch, accept}) -> {data, status, etag, response}
export async function request(path, options = {}, retried = false) {
  const { method = "GET", body, ifMatch, accept = "application/json", signal, raw } = options;
  if (session && session.expiresAt - Date.now() < 60000 && !retried) await refresh();
  const headers = authHeaders({ Accept: accept, ...(options.headers || {}) });
  let payload = body;
  if (body !== undefined && !(body instanceof Blob) && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (ifMatch !== undefined && ifMatch !== null) headers["If-Match"] = `"${ifMatch}"`;
  const response = await fetch(BASE + path, { method, headers, body: payload, signal, credentials: "omit" });
  if (response.status === 401 && !retried && (await refresh())) return request(path, options, true);
  if (response.status === 503 && method === "GET" && !retried) {
    // a service slow to answer: one more try after the server's Retry-After (at most 2 s)
    const wait = Math.min(Number(response.headers.get("Retry-After")) || 1, 2) * 1000;
    await new Promise((r) => setTimeout(r, wait));
    return request(path, options, true);
  }
  if (response.status === 401) {
    signOut("Your session ended: please sign in again.");
    throw new ApiError(401, { detail: "signed out" });
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({ detail: response.statusText }));
    throw new ApiError(response.status, problem);
  }
  const etag = (response.headers.get("ETag") || "").replace(/^W\//, "").replace(/"/g, "");
  if (raw) return { response, status: response.status, etag };
  const type = response.headers.get("Content-Type") || "";
  const data =
    response.status === 204 ? null : type.includes("json") ? await response.json() : await response.text();
  return { data, status: response.status, etag, response };
}

export const get = async (path, options) => (await request(path, options)).data;
export const post = (path, body, options = {}) => request(path, { ...options, method: "POST", body });
export const patch = (path, body, options = {}) => request(path, { ...options, method: "PATCH", body });
export const put = (path, body, options = {}) => request(path, { ...options, method: "PUT", body });
export const del = (path, options = {}) => request(path, { ...options, method: "DELETE" });

// A protected binary (document, chart) as an object URL for <img>/<iframe>; the caller revokes it.
export async function blobUrl(path, accept = "*/*") {
  const { response } = await request(path, { raw: true, accept });
  return URL.createObjectURL(await response.blob());
}

// Upload with progress (fetch has no upload progress): XMLHttpRequest with the same header.
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", BASE + path);
    for (const [k, v] of Object.entries(authHeaders({ Accept: "application/json" }))) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.addEventListener("progress", (e) => e.lengthComputable && onProgress(e.loaded / e.total));
    xhr.addEventListener("load", () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText || "{}");
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { detail: "network error" })));
    xhr.send(file);
  });
}

// Which routes the gateway offers, read once from its OpenAPI document: panels whose API is
// missing stay hidden, and a 404/501 from an advertised route hides them too.
export const caps = {
  paths: null,
  async load() {
    try {
      const response = await fetch(`${BASE}/docs/openapi.json`, { headers: authHeaders() });
      const doc = response.ok ? await response.json() : { paths: {} };
      this.paths = new Map();
      for (const [template, ops] of Object.entries(doc.paths || {})) {
        const key = template.replace(/^\/api\/v1/, "").replace(/\{[^}]+\}/g, "{}");
        this.paths.set(key, new Set(Object.keys(ops).map((m) => m.toUpperCase())));
      }
    } catch {
      this.paths = new Map();
    }
  },
  has(method, template) {
    if (!this.paths) return false;
    const ops = this.paths.get(template.replace(/\{[^}]+\}/g, "{}"));
    return !!ops && ops.has(method.toUpperCase());
  },
};

export const missing = (error) => error instanceof ApiError && (error.status === 404 || error.status === 501);
export const enc = encodeURIComponent;
