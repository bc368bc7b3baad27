"""The soak's verdict: every accepted job checked against the store, per-minute
latencies and RSS, and RSS growth within each process lifetime."""

from __future__ import annotations

import collections
import datetime
import statistics
from dataclasses import dataclass, field
from typing import Any

from _report import percentile
from _soak_faults import Fault, RssSample
from _soak_load import FINAL, Ledger, Submission

WARM_UP = 30.0  # seconds of a process's life left out of its growth verdict
MIN_LIFETIME = 150.0  # shorter lifetimes are too short to judge growth
GROWTH_LIMIT = 0.10  # and 8 MiB: more than this from the first to the last minute


@dataclass
class Audit:
    """Accepted jobs as the store has them at the end, and what is wrong with them."""

    accepted: int = 0
    refused: collections.Counter[str] = field(default_factory=collections.Counter)
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    failed: collections.Counter[str] = field(default_factory=collections.Counter)
    stuck: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    disagree: list[str] = field(default_factory=list)
    unacknowledged: int = 0  # stored jobs whose key never got a 202 (gave up)
    attempts: collections.Counter[int] = field(default_factory=collections.Counter)

    @property
    def bad(self) -> int:
        return len(self.lost) + len(self.stuck) + len(self.duplicated)


def audit(ledger: Ledger, stored: dict[str, Any]) -> Audit:
    """`stored`: every job of the store by id (GET /jobs), plus accepted jobs missing
    from it that a GET still found. An accepted id in neither is lost."""
    result = Audit()
    by_key: dict[str, list[str]] = collections.defaultdict(list)
    for job_id, job in stored.items():
        by_key[job["metadata"].get("soak_key", "")].append(job_id)
    acknowledged = set()
    for sub in ledger.submissions:
        if sub.job_id is None:
            result.refused[sub.refused or "no answer"] += 1
            continue
        result.accepted += 1
        acknowledged.add(sub.key)
        job = stored.get(sub.job_id)
        if job is None:
            result.lost.append(sub.job_id)
            continue
        status = job["status"]
        result.statuses[status] += 1
        result.attempts[job["attempts"]] += 1
        if status == "failed":
            result.failed[job["error"]["code"]] += 1
        if status not in FINAL:
            result.stuck.append(f"{sub.job_id} {status} v{job['version']}")
        ids = by_key.get(sub.key, [])
        if ids != [sub.job_id]:
            result.duplicated.append(f"key {sub.key}: jobs {ids}, 202 {sub.job_id}")
        sighting = ledger.sightings.get(sub.job_id)
        if sighting is None:
            continue
        if len({version for version, _ in sighting.finals}) > 1:
            result.duplicated.append(f"{sub.job_id} final twice: {sighting.finals}")
        watched = {s for _, s in sighting.finals}
        if watched and watched != {status}:
            result.disagree.append(f"{sub.job_id} watcher {watched} store {status}")
    result.unacknowledged = sum(
        len(ids) for key, ids in by_key.items() if key not in acknowledged
    )
    return result


def _wall(text: str) -> float:
    return datetime.datetime.fromisoformat(text).timestamp()


def end_to_end(
    ledger: Ledger, sub: Submission, stored: dict[str, Any]
) -> tuple[float, bool] | None:
    """Seconds from the first POST to the final status, and whether the watcher saw
    it (else: the stored job's completed_at, ms precision, same clock)."""
    sighting = ledger.sightings.get(sub.job_id or "")
    if sighting is not None and sighting.final_at is not None:
        return sighting.final_at - sub.started, True
    job = stored.get(sub.job_id or "")
    if job is None or job["status"] not in FINAL:
        return None
    return _wall(job["completed_at"]) - sub.started_wall, False


LATE = 1.0  # seconds after completed_at: a final the watcher got later was held up


def unwatched(ledger: Ledger, stored: dict[str, Any]) -> list[str]:
    """Accepted jobs final in the store whose final status the watcher never got,
    or got more than LATE seconds after the job's completed_at."""
    ids = []
    for sub in ledger.accepted():
        job = stored.get(sub.job_id or "")
        if not job or job["status"] not in FINAL:
            continue
        sighting = ledger.sightings.get(job["job_id"])
        seen = None if sighting is None else sighting.final_at
        done = _wall(job["completed_at"])
        if seen is None or ledger.t0_wall + (seen - ledger.t0) - done > LATE:
            ids.append(job["job_id"])
    return ids


def missed(ledger: Ledger, stored: dict[str, Any]) -> list[str]:
    """When the finals the watcher got late or never happened (seconds into the
    soak, by completed_at), in bursts: a burst lines up with the fault behind it."""
    times = sorted(
        _wall(stored[job_id]["completed_at"]) - ledger.t0_wall
        for job_id in unwatched(ledger, stored)
    )
    bursts: list[list[float]] = []
    for at in times:
        if bursts and at - bursts[-1][-1] <= 2.0:
            bursts[-1].append(at)
        else:
            bursts.append([at])
    return [f"{b[0]:.1f}-{b[-1]:.1f} s: {len(b)}" for b in bursts]


def _done(sub: Submission, stored: dict[str, Any]) -> float | None:
    """Seconds from the first POST to the stored completed_at (the service's view)."""
    job = stored.get(sub.job_id or "")
    if job is None or job["status"] not in FINAL:
        return None
    return _wall(job["completed_at"]) - sub.started_wall


def _q(values: list[float], share: float, scale: float = 1.0) -> str:
    return f"{percentile(sorted(values), share) * scale:.2f}" if values else "-"


def minutes(
    ledger: Ledger,
    stored: dict[str, Any],
    faults: list[Fault],
    samples: list[RssSample],
    replicas: int,
) -> tuple[list[str], list[list[object]]]:
    """One row per minute: submissions started in it and their latencies, the faults
    in it, and each replica's last RSS in it (* = the process was new in it)."""
    by_minute: dict[int, list[Submission]] = collections.defaultdict(list)
    for sub in ledger.submissions:
        by_minute[int((sub.started - ledger.t0) // 60)].append(sub)
    last = max([*by_minute, *(int(s.at // 60) for s in samples)], default=0)
    headers = ["minute", "submitted", "accepted", "retried", "submit p50 ms"]
    headers += ["submit p99 ms", "e2e p50 s", "e2e p99 s", "done p99 s", "faults"]
    headers += [f"r{i + 1} RSS MiB" for i in range(replicas)]
    rows: list[list[object]] = []
    for minute in range(last + 1):
        subs = by_minute.get(minute, [])
        submit = [s.accepted - s.started for s in subs if s.accepted is not None]
        e2e = [t[0] for s in subs if (t := end_to_end(ledger, s, stored))]
        kinds = collections.Counter(
            f"{f.kind} {f.target}" for f in faults if int(f.at // 60) == minute
        )
        row: list[object] = [minute + 1 if subs else f"{minute + 1} (drain)"]
        row += [len(subs), len(submit), sum(s.tries > 1 for s in subs)]
        row += [_q(submit, 0.5, 1e3), _q(submit, 0.99, 1e3)]
        done = [d for s in subs if (d := _done(s, stored)) is not None]
        row += [_q(e2e, 0.5), _q(e2e, 0.99), _q(done, 0.99)]
        row.append(", ".join(f"{k} x{n}" if n > 1 else k for k, n in kinds.items()))
        for replica in range(replicas):
            mine = [
                s for s in samples if s.replica == replica and int(s.at // 60) == minute
            ]
            if not mine:
                row.append("-")
                continue
            fresh = any(
                s.pid not in _pids_before(samples, replica, minute) for s in mine
            )
            row.append(f"{mine[-1].kib / 1024:.0f}" + ("*" if fresh else ""))
        rows.append(row)
    return headers, rows


def _pids_before(samples: list[RssSample], replica: int, minute: int) -> set[int]:
    return {s.pid for s in samples if s.replica == replica and s.at < minute * 60}


def lifetimes(samples: list[RssSample]) -> tuple[list[str], list[list[object]]]:
    """One row per process: its RSS from first to last sample and a growth verdict
    (mean of its first minute after WARM_UP against its last minute)."""
    series: dict[tuple[int, int], list[RssSample]] = {}
    for sample in samples:
        series.setdefault((sample.replica, sample.pid), []).append(sample)
    headers = ["replica", "pid", "sampled s", "first MiB", "last MiB", "max MiB"]
    headers += ["first minute MiB", "last minute MiB", "verdict"]
    rows: list[list[object]] = []
    for (replica, pid), own in sorted(series.items(), key=lambda kv: kv[1][0].at):
        start, end = own[0].at, own[-1].at
        mib = [s.kib / 1024 for s in own]
        row: list[object] = [f"r{replica + 1}", str(pid), f"{start:.0f}-{end:.0f}"]
        row += [f"{mib[0]:.0f}", f"{mib[-1]:.0f}", f"{max(mib):.0f}"]
        if end - start < MIN_LIFETIME:
            rows.append([*row, "-", "-", "too short to judge"])
            continue
        first = statistics.mean(
            m for s, m in zip(own, mib, strict=True) if WARM_UP <= s.at - start < 90
        )
        final = statistics.mean(
            m for s, m in zip(own, mib, strict=True) if s.at > end - 60
        )
        grows = final - first > max(GROWTH_LIMIT * first, 8.0)
        verdict = "GROWS" if grows else f"flat ({(final - first):+.1f} MiB)"
        rows.append([*row, f"{first:.0f}", f"{final:.0f}", verdict])
    return headers, rows
