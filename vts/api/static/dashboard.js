// The vts dashboard: the newest jobs over one /ws/jobs connection, REST for the
// rest. Every value from the server goes into the DOM as text, never as markup.

import { ApiError, JobStream, call, query, session } from "./api.js";
import { Stats, drawPercentiles, drawRates, formatSeconds } from "./charts.js";
import { FINAL, JobBook, JobTable, formatTime } from "./jobs.js";
import { Detail } from "./detail.js";

const PAGE_SIZE = 50;
const STATUSES = ["pending", "processing", "completed", "failed", "cancelled"];
const FIELD_INPUTS = {
  source_language: "source-language",
  target_language: "target-language",
  metadata: "video-url",
  "metadata.video_url": "video-url",
};
const $ = (id) => document.getElementById(id);

const book = new JobBook();
const stats = new Stats();
// Live: the newest jobs, as they come; else the page of `ids` read with a cursor.
const view = { live: true, ids: [], cursor: null, status: "" };
const deadLetters = new Map();
const tenantsSeen = new Set();
let renderQueued = false;
let storeCounts = null; // from GET /jobs/counts, refreshed with the health pill

const table = new JobTable($("jobs-table").tBodies[0], { open: openDetail, cancel });
const detail = new Detail($("detail"), book);
const stream = new JobStream({
  onJob: receive,
  // Resync on every (re)connect: a change made while the socket was down is in the
  // REST page. An older page keeps its rows; they update as versions arrive.
  onOpen: () => {
    if (view.live) loadJobs().catch(showJobsError);
  },
  onState: (state, reason) => {
    const live = $("live");
    live.textContent = state === "open" ? "live: connected" : `live: ${reason || state}`;
    live.className = `pill ${state === "open" ? "ok" : "bad"}`;
  },
});

function matches(job) {
  if (session.tenant && job.tenant !== session.tenant) return false;
  return !view.status || job.status === view.status;
}

function receive(job) {
  if (session.tenant && job.tenant !== session.tenant) return;
  const previous = book.apply(job);
  if (previous === null) return;
  if (!tenantsSeen.has(job.tenant)) {
    tenantsSeen.add(job.tenant);
    const option = document.createElement("option");
    option.value = job.tenant;
    $("tenants").append(option);
  }
  if ((job.status === "completed" || job.status === "failed") && !FINAL.has(previous.status)) {
    stats.finish(job);
  }
  if (job.status === "failed") deadLetters.set(job.job_id, job);
  else if (deadLetters.has(job.job_id)) deadLetters.delete(job.job_id);
  detail.update(job.job_id);
  scheduleRender();
}

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function visibleJobs() {
  if (view.live) return book.newest(PAGE_SIZE, matches);
  return view.ids.map((id) => book.get(id)).filter(Boolean);
}

function render() {
  const jobs = visibleJobs();
  table.render(jobs);
  $("older").disabled = !view.cursor;
  $("newest").disabled = view.live;
  if (!jobs.length) $("jobs-message").textContent = "No jobs yet.";
  else if ($("jobs-message").textContent === "No jobs yet.") $("jobs-message").textContent = "";
  renderDeadLetters();
  if (!storeCounts) renderCounts(countKnown(), `among the ${book.jobs.size} jobs this page holds`);
}

function countKnown() {
  const counts = Object.fromEntries(STATUSES.map((status) => [status, 0]));
  for (const job of book.jobs.values()) {
    if (!session.tenant || job.tenant === session.tenant) counts[job.status] += 1;
  }
  return counts;
}

function renderCounts(counts, source) {
  $("counts-source").textContent = source;
  const list = $("counts");
  if (!list.children.length) {
    for (const status of STATUSES) {
      const item = document.createElement("div");
      const term = document.createElement("dt");
      term.textContent = status;
      const value = document.createElement("dd");
      value.id = `count-${status}`;
      item.append(term, value);
      list.append(item);
    }
  }
  for (const status of STATUSES) $(`count-${status}`).textContent = String(counts[status] ?? 0);
}

function renderDeadLetters() {
  const tbody = $("dlq-table").tBodies[0];
  const jobs = [...deadLetters.values()].sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1));
  tbody.replaceChildren(...jobs.slice(0, PAGE_SIZE).map(deadLetterRow));
  $("dlq-message").textContent = jobs.length ? "" : "No dead letters.";
}

function deadLetterRow(job) {
  const row = document.createElement("tr");
  row.dataset.jobId = job.job_id;
  const open = document.createElement("button");
  open.type = "button";
  open.textContent = job.job_id;
  open.addEventListener("click", () => openDetail(job.job_id));
  const id = row.insertCell();
  id.className = "id";
  id.append(open);
  const error = row.insertCell();
  error.className = "error";
  error.textContent = job.error ? `${job.error.code}: ${job.error.message}` : "–";
  row.insertCell().textContent = `${job.attempts}/${job.max_attempts}`;
  row.insertCell().textContent = formatTime(job.updated_at);
  const replay = document.createElement("button");
  replay.type = "button";
  replay.textContent = "Replay";
  replay.setAttribute("aria-label", `Replay job ${job.job_id}`);
  replay.addEventListener("click", () => replayJob(job.job_id, replay));
  row.insertCell().append(replay);
  return row;
}

async function loadJobs(cursor = null) {
  const page = await call(`/jobs${query({ limit: PAGE_SIZE, status: view.status, cursor })}`);
  for (const job of page.jobs) book.apply(job);
  if (cursor === null) Object.assign(view, { live: true, ids: [] });
  else Object.assign(view, { live: false, ids: page.jobs.map((job) => job.job_id) });
  view.cursor = page.next_cursor;
  $("jobs-message").textContent = "";
  scheduleRender();
}

async function loadDeadLetters() {
  const page = await call("/dlq?limit=100");
  deadLetters.clear();
  for (const job of page.jobs) {
    book.apply(job);
    deadLetters.set(job.job_id, job);
  }
  scheduleRender();
}

function showJobsError(error) {
  if (error instanceof ApiError && error.status === 401) return askForKey("The server refused this key.");
  $("jobs-message").textContent = `Could not load jobs: ${error.message}`;
}

async function cancel(jobId, button) {
  button.disabled = true;
  try {
    receive(await call(`/jobs/${jobId}/cancel`, { method: "POST" }));
    $("jobs-message").textContent = `Cancelled job ${jobId}.`;
  } catch (error) {
    $("jobs-message").textContent = `Could not cancel ${jobId}: ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

async function replayJob(jobId, button) {
  button.disabled = true;
  try {
    receive(await call(`/dlq/${jobId}/replay`, { method: "POST" }));
    deadLetters.delete(jobId);
    $("dlq-message").textContent = `Replayed job ${jobId}.`;
    scheduleRender();
  } catch (error) {
    button.disabled = false;
    $("dlq-message").textContent = `Could not replay ${jobId}: ${error.message}`;
  }
}

async function openDetail(jobId) {
  detail.open(jobId);
  try {
    receive(await call(`/jobs/${jobId}`));
    detail.update(jobId);
  } catch (error) {
    detail.fail(error.message);
  }
}

function clearFieldErrors() {
  for (const input of $("job-form").querySelectorAll("input")) {
    input.removeAttribute("aria-invalid");
    $(`${input.id}-error`).textContent = "";
  }
}

async function submitJob(event) {
  event.preventDefault();
  clearFieldErrors();
  const status = $("job-form-status");
  const body = {
    source_language: $("source-language").value.trim(),
    target_language: $("target-language").value.trim(),
    metadata: { video_url: $("video-url").value.trim() },
  };
  status.textContent = "Submitting…";
  try {
    const created = await call("/translate", { method: "POST", body });
    status.textContent = `Created job ${created.job_id}.`;
    $("video-url").value = "";
  } catch (error) {
    if (!(error instanceof ApiError)) {
      status.textContent = `Could not submit: ${error.message}`;
      return;
    }
    let first = null;
    const general = [];
    for (const [field, message] of Object.entries(error.fieldErrors)) {
      const inputId = FIELD_INPUTS[field];
      if (!inputId) { general.push(`${field}: ${message}`); continue; }
      const input = $(inputId);
      input.setAttribute("aria-invalid", "true");
      $(`${inputId}-error`).textContent = message;
      first = first || input;
    }
    status.textContent = general.length ? general.join("; ") : error.message;
    if (first) first.focus();
  }
}

async function refreshGlance() {
  try {
    const ready = await call("/readyz", { auth: false });
    $("health").textContent = `health: ${ready.status}`;
    $("health").className = "pill ok";
  } catch (error) {
    $("health").textContent = `health: ${error instanceof ApiError ? "unavailable" : "unreachable"}`;
    $("health").className = "pill bad";
  }
  // The tenant's counts from the store (an admin's: every tenant's, or the one
  // chosen); the page's own jobs are counted only while the store cannot answer.
  try {
    const { counts } = await call("/jobs/counts");
    storeCounts = counts;
    renderCounts(storeCounts, "in the store");
  } catch {
    storeCounts = null;
  }
}

function tick() {
  stats.trim();
  const rates = stats.rates();
  drawRates($("throughput"), rates);
  $("rate").textContent = stats.currentRate().toFixed(1);
  const { series, overall } = stats.percentiles();
  drawPercentiles($("durations"), series);
  $("durations-now").textContent = overall
    ? `${formatSeconds(overall[0])} / ${formatSeconds(overall[1])}`
    : "–";
  const keep = new Set([...visibleJobs().map((job) => job.job_id), ...deadLetters.keys()]);
  if (detail.jobId) keep.add(detail.jobId);
  book.prune(keep);
}

function askForKey(message = "") {
  stream.stop();
  session.key = null;
  $("app").hidden = true;
  $("login").hidden = false;
  $("key-error").textContent = message;
  $("api-key").focus();
}

async function start() {
  $("login").hidden = true;
  $("forget-key").hidden = !session.key;
  $("tenant-form").hidden = false;
  $("tenant").value = session.tenant;
  try {
    await loadJobs();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return askForKey("The server refused this key.");
    $("jobs-message").textContent = `Could not load jobs: ${error.message}`;
  }
  $("app").hidden = false;
  tick();
  stream.start();
  loadDeadLetters().catch((error) => { $("dlq-message").textContent = `Could not load dead letters: ${error.message}`; });
  refreshGlance();
}

function restart() {
  stream.stop();
  book.jobs.clear();
  book.history.clear();
  deadLetters.clear();
  Object.assign(view, { live: true, ids: [], cursor: null });
  start();
}

function wire() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    session.key = $("api-key").value.trim();
    $("api-key").value = "";
    start();
  });
  $("forget-key").addEventListener("click", () => {
    session.key = null;
    session.tenant = "";
    location.reload();
  });
  $("tenant-form").addEventListener("submit", (event) => {
    event.preventDefault();
    session.tenant = $("tenant").value.trim();
    restart();
  });
  $("job-form").addEventListener("submit", submitJob);
  $("status-filter").addEventListener("change", () => {
    view.status = $("status-filter").value;
    loadJobs().catch(showJobsError);
  });
  $("older").addEventListener("click", () => {
    if (!view.cursor) return;
    loadJobs(view.cursor).catch(showJobsError);
  });
  $("newest").addEventListener("click", () => {
    loadJobs().catch(showJobsError);
  });
  $("dlq-refresh").addEventListener("click", () => {
    loadDeadLetters().catch((error) => { $("dlq-message").textContent = error.message; });
  });
  setInterval(tick, 1000);
  setInterval(() => { if (!$("app").hidden) refreshGlance(); }, 3000);
}

wire();
const auth = document.querySelector('meta[name="vts-auth"]').content;
if (auth === "keys" && !session.key) askForKey();
else start();
