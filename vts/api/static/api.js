// The REST and WebSocket calls of the dashboard. The API key lives in
// sessionStorage (this tab only) and travels as the bearer header or, on the
// WebSocket, as the subprotocol pair `vts.bearer, <key>`: never in a URL.

const KEY_ITEM = "vts.apiKey";
const TENANT_ITEM = "vts.tenant";

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
  get fieldErrors() {
    return this.problem.errors || {};
  }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY_ITEM); },
  set key(value) {
    if (value) sessionStorage.setItem(KEY_ITEM, value);
    else sessionStorage.removeItem(KEY_ITEM);
  },
  get tenant() { return sessionStorage.getItem(TENANT_ITEM) || ""; },
  set tenant(value) {
    if (value) sessionStorage.setItem(TENANT_ITEM, value);
    else sessionStorage.removeItem(TENANT_ITEM);
  },
};

export async function call(path, { method = "GET", body, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (auth) {
    const key = session.key;
    if (key) headers.Authorization = `Bearer ${key}`;
    // An admin acts for one tenant through this header (others may not use it).
    if (session.tenant) headers["VTS-Tenant"] = session.tenant;
  }
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, typeof data === "object" ? data : null);
  return data;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// One /ws/jobs?all=true connection, reopened with backoff; `onOpen` runs on every
// (re)connect, so the caller can resync what it may have missed.
export class JobStream {
  constructor({ onJob, onOpen, onState }) {
    this.onJob = onJob;
    this.onOpen = onOpen;
    this.onState = onState;
    this.delay = 500;
    this.socket = null;
    this.stopped = false;
    this.timer = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}/ws/jobs?all=true`;
    const key = session.key;
    let socket;
    try {
      socket = key ? new WebSocket(url, ["vts.bearer", key]) : new WebSocket(url);
    } catch (error) {
      // A key with characters a subprotocol cannot carry.
      this.onState("error", "this key cannot be sent over a WebSocket");
      return;
    }
    this.socket = socket;
    this.onState("connecting");
    socket.addEventListener("open", () => {
      this.delay = 500;
      this.onState("open");
      this.onOpen();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.type === "job") this.onJob(message);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket || this.stopped) return;
      this.onState("closed");
      this.timer = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 10000);
    });
  }
}
