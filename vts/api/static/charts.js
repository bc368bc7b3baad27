// Small live charts computed from the job messages this page sees: jobs finished
// per second (last 2 minutes) and the p50/p95 run time (last 5 minutes).

const RATE_SECONDS = 120;
const DURATION_SECONDS = 300;
const DURATION_BUCKET = 10;

export class Stats {
  constructor() {
    this.finished = []; // [epoch second, count]
    this.durations = []; // [epoch ms, seconds]
  }

  // Counts a job that became final now (completed or failed); a completed one
  // with its run time from started_at to completed_at.
  finish(job, now = Date.now()) {
    const second = Math.floor(now / 1000);
    const last = this.finished[this.finished.length - 1];
    if (last && last[0] === second) last[1] += 1;
    else this.finished.push([second, 1]);
    if (job.status === "completed" && job.started_at && job.completed_at) {
      const seconds = (Date.parse(job.completed_at) - Date.parse(job.started_at)) / 1000;
      if (Number.isFinite(seconds) && seconds >= 0) this.durations.push([now, seconds]);
    }
  }

  trim(now = Date.now()) {
    const rateFloor = Math.floor(now / 1000) - RATE_SECONDS;
    while (this.finished.length && this.finished[0][0] <= rateFloor) this.finished.shift();
    const durationFloor = now - DURATION_SECONDS * 1000;
    while (this.durations.length && this.durations[0][0] <= durationFloor) this.durations.shift();
  }

  // Per second, oldest first, RATE_SECONDS values (the current second last).
  rates(now = Date.now()) {
    const end = Math.floor(now / 1000);
    const values = new Array(RATE_SECONDS).fill(0);
    for (const [second, count] of this.finished) {
      const at = RATE_SECONDS - 1 - (end - second);
      if (at >= 0 && at < RATE_SECONDS) values[at] = count;
    }
    return values;
  }

  // The rate over the last 10 complete seconds.
  currentRate(now = Date.now()) {
    const values = this.rates(now).slice(-11, -1);
    return values.reduce((sum, value) => sum + value, 0) / values.length;
  }

  // [p50, p95] per DURATION_BUCKET seconds (null where none finished), and overall.
  percentiles(now = Date.now()) {
    const buckets = DURATION_SECONDS / DURATION_BUCKET;
    const grouped = Array.from({ length: buckets }, () => []);
    const start = now - DURATION_SECONDS * 1000;
    for (const [at, seconds] of this.durations) {
      const index = Math.floor((at - start) / (DURATION_BUCKET * 1000));
      if (index >= 0 && index < buckets) grouped[index].push(seconds);
    }
    const series = grouped.map((values) => (values.length ? [quantile(values, 0.5), quantile(values, 0.95)] : null));
    const all = this.durations.map(([, seconds]) => seconds);
    const overall = all.length ? [quantile(all, 0.5), quantile(all, 0.95)] : null;
    return { series, overall };
  }
}

export function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index];
}

function prepare(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, width, height);
  return { context, width, height, ratio };
}

function color(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function axis(context, width, height, ratio, top) {
  context.strokeStyle = color("--line");
  context.lineWidth = ratio;
  context.beginPath();
  context.moveTo(0, height - 0.5);
  context.lineTo(width, height - 0.5);
  context.stroke();
  context.fillStyle = color("--muted");
  context.font = `${11 * ratio}px system-ui, sans-serif`;
  context.textBaseline = "top";
  context.fillText(top, 2 * ratio, 2 * ratio);
}

export function drawRates(canvas, values) {
  const { context, width, height, ratio } = prepare(canvas);
  const top = Math.max(1, ...values);
  const step = width / values.length;
  context.fillStyle = color("--accent");
  values.forEach((value, index) => {
    const bar = (value / top) * (height - 16 * ratio);
    context.fillRect(index * step, height - bar, Math.max(ratio, step - ratio), bar);
  });
  axis(context, width, height, ratio, `${top}/s`);
}

export function drawPercentiles(canvas, series) {
  const { context, width, height, ratio } = prepare(canvas);
  const seen = series.filter(Boolean).flat();
  const top = Math.max(0.001, ...seen);
  const step = width / Math.max(1, series.length - 1);
  for (const [which, name] of [[0, "--p50"], [1, "--p95"]]) {
    context.strokeStyle = color(name);
    context.lineWidth = 2 * ratio;
    context.beginPath();
    let drawing = false;
    series.forEach((pair, index) => {
      if (!pair) { drawing = false; return; }
      const y = height - (pair[which] / top) * (height - 16 * ratio);
      if (drawing) context.lineTo(index * step, y);
      else {
        // A lone bucket shows as a dot; a run of them as a line.
        context.moveTo(index * step, y);
        context.arc(index * step, y, 1.5 * ratio, 0, 2 * Math.PI);
        context.moveTo(index * step, y);
      }
      drawing = true;
    });
    context.stroke();
  }
  axis(context, width, height, ratio, `${formatSeconds(top)}`);
}

export function formatSeconds(seconds) {
  return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(1)} s`;
}
