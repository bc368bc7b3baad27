// The job detail dialog: every field of the newest version, and the versions this
// page has seen, growing as they arrive.

import { formatTime } from "./jobs.js";

const TIMES = new Set(["created_at", "updated_at", "started_at", "completed_at"]);

export class Detail {
  constructor(dialog, book) {
    this.dialog = dialog;
    this.book = book;
    this.jobId = null;
    this.fields = dialog.querySelector("#detail-fields");
    this.history = dialog.querySelector("#detail-history").tBodies[0];
    dialog.querySelector("#detail-close").addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => { this.jobId = null; });
  }

  open(jobId) {
    this.jobId = jobId;
    this.dialog.querySelector("#detail-title").textContent = `Job ${jobId}`;
    this.fields.replaceChildren();
    this.history.replaceChildren();
    if (!this.dialog.open) this.dialog.showModal();
    this.update(jobId);
  }

  fail(message) {
    const term = document.createElement("dt");
    term.textContent = "error";
    const value = document.createElement("dd");
    value.textContent = message;
    this.fields.replaceChildren(term, value);
  }

  update(jobId) {
    if (jobId !== this.jobId) return;
    const job = this.book.get(jobId);
    if (!job) return;
    const items = [];
    for (const [name, value] of Object.entries(job)) {
      if (name === "type") continue;
      const term = document.createElement("dt");
      term.textContent = name;
      const description = document.createElement("dd");
      description.dataset.field = name;
      if (value !== null && typeof value === "object") {
        const pre = document.createElement("pre");
        pre.textContent = JSON.stringify(value, null, 2);
        description.append(pre);
      } else if (TIMES.has(name) && value) {
        description.textContent = `${value} (${formatTime(value)})`;
      } else {
        description.textContent = value === null ? "–" : String(value);
      }
      items.push(term, description);
    }
    this.fields.replaceChildren(...items);
    const versions = this.book.history.get(jobId) || [];
    this.history.replaceChildren(...[...versions].sort((a, b) => b.version - a.version).map((entry) => {
      const row = document.createElement("tr");
      row.insertCell().textContent = String(entry.version);
      row.insertCell().textContent = entry.status;
      row.insertCell().textContent = entry.stage || "–";
      row.insertCell().textContent = `${entry.progress || 0}%`;
      row.insertCell().textContent = formatTime(entry.updated_at);
      return row;
    }));
  }
}
