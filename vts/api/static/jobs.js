// What the page knows about jobs, and the jobs table: one row per job id, reused
// as versions arrive, and only the rows of the current page are in the DOM.

export const FINAL = new Set(["completed", "failed", "cancelled"]);
const HISTORY_LIMIT = 100;

export class JobBook {
  constructor(limit = 2000) {
    this.limit = limit;
    this.jobs = new Map();
    this.history = new Map();
  }

  get(jobId) {
    return this.jobs.get(jobId);
  }

  // Keeps `job` unless a newer version is known; returns the previous version
  // ({} for a new job), or null when `job` was not newer.
  apply(job) {
    const known = this.jobs.get(job.job_id);
    if (known && known.version >= job.version) return null;
    this.jobs.set(job.job_id, job);
    let versions = this.history.get(job.job_id);
    if (!versions) this.history.set(job.job_id, (versions = []));
    versions.push({
      version: job.version, status: job.status, stage: job.stage,
      progress: job.progress, updated_at: job.updated_at,
    });
    if (versions.length > HISTORY_LIMIT) versions.shift();
    return known || {};
  }

  // Forgets the oldest jobs beyond the limit, except those `keep` names.
  prune(keep) {
    if (this.jobs.size <= this.limit) return;
    const excess = this.jobs.size - this.limit;
    const oldest = [...this.jobs.values()]
      .filter((job) => !keep.has(job.job_id))
      .sort(byNewest)
      .slice(-excess);
    for (const job of oldest) {
      this.jobs.delete(job.job_id);
      this.history.delete(job.job_id);
    }
  }

  newest(count, matches) {
    const found = [];
    for (const job of this.jobs.values()) if (matches(job)) found.push(job);
    return found.sort(byNewest).slice(0, count);
  }
}

export function byNewest(a, b) {
  if (a.created_at !== b.created_at) return a.created_at < b.created_at ? 1 : -1;
  return a.job_id < b.job_id ? 1 : -1;
}

export function formatTime(value) {
  if (!value) return "–";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleTimeString();
}

function cell(row, className) {
  const td = row.insertCell();
  if (className) td.className = className;
  return td;
}

// The jobs table's body. `actions` gives `open(jobId)` and `cancel(jobId)`.
export class JobTable {
  constructor(tbody, actions) {
    this.tbody = tbody;
    this.actions = actions;
    this.rows = new Map();
  }

  render(jobs) {
    const wanted = new Set(jobs.map((job) => job.job_id));
    for (const [jobId, row] of this.rows) {
      if (!wanted.has(jobId)) {
        row.remove();
        this.rows.delete(jobId);
      }
    }
    let previous = null;
    for (const job of jobs) {
      let row = this.rows.get(job.job_id);
      if (!row) {
        row = this.makeRow(job.job_id);
        this.rows.set(job.job_id, row);
      }
      this.fill(row, job);
      const next = previous ? previous.nextSibling : this.tbody.firstChild;
      if (next !== row) this.tbody.insertBefore(row, next);
      previous = row;
    }
  }

  makeRow(jobId) {
    const row = document.createElement("tr");
    row.dataset.jobId = jobId;
    const open = document.createElement("button");
    open.type = "button";
    open.textContent = jobId;
    open.title = "Show this job";
    open.addEventListener("click", () => this.actions.open(jobId));
    cell(row, "id").append(open);
    cell(row, "status");
    cell(row, "stage");
    const bar = document.createElement("progress");
    bar.max = 100;
    cell(row, "progress").append(bar);
    cell(row, "languages");
    cell(row, "attempts");
    cell(row, "created");
    cell(row, "updated");
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    cancel.setAttribute("aria-label", `Cancel job ${jobId}`);
    cancel.addEventListener("click", () => this.actions.cancel(jobId, cancel));
    cell(row, "actions").append(cancel);
    row.version = -1;
    return row;
  }

  fill(row, job) {
    if (row.version === job.version) return;
    row.version = job.version;
    const cells = row.cells;
    cells[1].textContent = job.status;
    cells[1].className = `status status-${job.status}`;
    cells[2].textContent = job.stage || "–";
    const bar = cells[3].firstChild;
    bar.value = job.progress || 0;
    bar.textContent = `${job.progress || 0}%`;
    bar.setAttribute("aria-label", `progress ${bar.textContent}`);
    cells[4].textContent = `${job.source_language} → ${job.target_language}`;
    cells[5].textContent = `${job.attempts}/${job.max_attempts}`;
    cells[6].textContent = formatTime(job.created_at);
    cells[6].title = job.created_at || "";
    cells[7].textContent = formatTime(job.updated_at);
    cells[7].title = job.updated_at || "";
    const cancel = cells[8].firstChild;
    cancel.hidden = FINAL.has(job.status);
  }
}
