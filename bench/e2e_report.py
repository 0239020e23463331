"""The end-to-end and baseline parts of docs/performance.md and their charts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

TARGET_RATE = 2000.0  # complaints/s (issue 8)
TARGET_P99_MS = 250.0
TARGET_RATIO = 0.8


def clean(value: Any) -> Any:
    """NaN and infinities become None (results.json stays strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def _num(value: Any, fmt: str = ",.0f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return format(value, fmt)


def _steps(sweep: dict[str, Any]) -> list[dict[str, Any]]:
    return list(sweep.get("steps", [])) if sweep else []


def met_at(sweep: dict[str, Any]) -> float:
    """The highest offered load whose step kept up (effects ≥ 90% of offered, nothing missing,
    no errors) with p99 within the target."""
    best = 0.0
    for s in _steps(sweep):
        p99 = s.get("p99_ms")
        if not s.get("saturated") and p99 is not None and p99 <= TARGET_P99_MS:
            best = max(best, float(s["offered_per_s"]))
    return best


def ratio(e2e: dict[str, Any], baseline: dict[str, Any]) -> float | None:
    platform = (e2e.get("complaints") or {}).get("capacity_per_s")
    base = baseline.get("capacity_per_s") if baseline else None
    if not platform or not base:
        return None
    return float(platform) / float(base)


def _ended(sweep: dict[str, Any]) -> str:
    if not sweep:
        return "Not measured in these results."
    if sweep.get("saturation_reason"):
        reason = sweep["saturation_reason"]
        return f"The sweep saturated at {_num(sweep.get('saturated_at'))}/s offered ({reason})."
    return "No step saturated: the capacity is at least the best step's effects/s."


def _table(sweep: dict[str, Any], extra: list[tuple[str, str]], accepted: str) -> str:
    head = ["offered/s", accepted, "effects/s", "p50 ms", "p95 ms", "p99 ms"]
    head += [h for h, _ in extra]
    head += ["errors", "missing", "saturated"]
    rows = [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for s in _steps(sweep):
        cells = [
            _num(s["offered_per_s"]),
            _num(s["accepted_per_s"], ",.1f"),
            _num(s["effects_per_s"], ",.1f"),
            _num(s.get("p50_ms")),
            _num(s.get("p95_ms")),
            _num(s.get("p99_ms")),
        ]
        cells += [_num(s.get(key)) for _, key in extra]
        cells += [
            _num(s["errors"]),
            _num(s["missing"]),
            s.get("saturated") or "",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def failed(e2e: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    """What went wrong in the end-to-end and baseline runs (empty when nothing did)."""
    parts = [
        ("end to end", e2e),
        ("complaints", e2e.get("complaints") or {}),
        ("inspections", e2e.get("inspections") or {}),
        ("baseline", baseline),
    ]
    return [f"{name}: `{part['error']}`" for name, part in parts if part.get("error")]


def section(e2e: dict[str, Any], baseline: dict[str, Any]) -> str:
    if not e2e and not baseline:
        return "## End to end\n\nNot measured in these results (run `make bench`).\n"
    setup = e2e.get("setup", {}) if e2e else {}
    commit_ts = setup.get("commit_timestamps", (baseline or {}).get("commit_timestamps"))
    effect_time = (
        "the commit time of the transaction that wrote the effect row "
        "(`pg_xact_commit_timestamp(xmin)`; the harness turns `track_commit_timestamp` on for the "
        "bench server), so a consumer that groups records into one transaction is timed at its "
        "commit, when the effect became visible"
        if commit_ts or commit_ts is None
        else "the effect row's `created_at`/`recorded_at` (`now()`: the start of the writing "
        "transaction; commit timestamps were off)"
    )
    http = "HTTP p50 ms", "http_p50_ms"
    http99 = "HTTP p99 ms", "http_p99_ms"
    complaints = e2e.get("complaints", {}) if e2e else {}
    inspections = e2e.get("inspections", {}) if e2e else {}
    r = ratio(e2e or {}, baseline or {})
    platform_cap = complaints.get("capacity_per_s")
    base_cap = (baseline or {}).get("capacity_per_s")
    met = met_at(complaints)
    bounds = []
    if complaints and not complaints.get("saturation_reason"):
        bounds.append("the platform did not saturate (its capacity is higher)")
    if baseline and not baseline.get("saturation_reason"):
        bounds.append("the baseline did not saturate (its capacity is higher)")
    bound_note = f" ({'; '.join(bounds)})" if bounds else ""
    gens = setup.get("generators", 1)
    failures = "".join(
        f"\n**Failed** (tables empty or partial): {problem}\n"
        for problem in failed(e2e or {}, baseline or {})
    )
    client_note = (
        "Its HTTP client is a minimal HTTP/1.1 client on asyncio streams: measured here, one "
        "process offers 2,000 requests/s open loop with a p99 lag of 10 ms, while "
        "`httpx.AsyncClient` could not keep 500/s (its pool slows down as requests wait; "
        "details in `bench/load.py`)."
        if setup.get("http_client", "raw") == "raw"
        else "Its HTTP client is `httpx.AsyncClient` (`--http-client httpx`)."
    )
    setup_facts = (
        f"Setup of these numbers: {_num(setup.get('projects'))} bench projects; services log at "
        f"{setup.get('service_log_level', 'WARNING')}; {gens} load generator "
        f"process{'es' if gens != 1 else ''}; {_num(setup.get('step_s', 10))} s per step; a "
        f"{_num(setup.get('drain_s', 10))} s drain."
    )
    return f"""## End to end
{failures}
The four services run as processes on the bench stack, as `tests/e2e` starts them (environment
only, a development token issuer, the 2011 campaign calendar), plus a registry of bench projects
imported over HTTP first so the load spreads over many projects; per-client rate limiting is off
(all the load comes from one address). An open-loop load generator (`bench/load.py`: up to 256
keep-alive connections per process, a 15 s limit per request) sends requests on a fixed schedule
at each offered rate, whatever the responses. {client_note} The rate doubles from step to step
until one saturates: effects below 90% of offered, more than 1% errors, effects still missing
after the drain, p99 above 1 s and 10× the first step's, or the generator itself lagging its
schedule by more than 250 ms (p99). One flow at a time: complaints, then failed inspections. {setup_facts}

- **Event time**: when the request was due on the open-loop schedule (the client's wall clock;
  client and databases are on this machine, one clock).
- **Effect time**: {effect_time}.
- **Latency** = effect time − event time: it includes any wait for a client connection, HTTP,
  the intake transaction, the outbox relay, Kafka and the consumer. Requests and effects are
  matched by the `X-Correlation-ID` header, which the services carry into the events and from
  there into the effect rows.
- **effects/s**: effects completed ÷ (last effect − first due time), at least the step's length.
  **accepted/s**: 2xx responses ÷ (last 2xx answer − first due time), at least the step's
  length. **HTTP p50/p99**: the request's own round trip, from when the generator sent it.
  **errors**: non-2xx answers and transport errors or timeouts. **missing**: accepted requests
  whose effect was not recorded by the end of the drain.

### Complaints: `POST /api/v1/complaints` (an owner files) → the owner's receipt notice

Effect: the `complaint-receipt` notice in the notifications database. {_ended(complaints)}

{_table(complaints, [http, http99], "accepted/s")}

### Failed inspections: `POST /api/v1/inspections` (three failed items) → notice and board

Effects: the `inspection-failed` notice in the notifications database and the exposure service's
evidence row (what the public board's cases are built from); the request's effect time is the
later of the two (each one's own p99 is shown too). {_ended(inspections)}

{_table(inspections, [("notice p99 ms", "notice_p99_ms"), ("board p99 ms", "board_p99_ms"), http, http99], "accepted/s")}

### Baseline: hand-written aiokafka + asyncpg, the complaint flow's transactional work

`bench/baseline.py`, no platform code: a writer inserts a complaint row and an outbox row in one
transaction (with a NOTIFY for the relay), called directly by the same open-loop schedule — **no
HTTP, no token check, no validation**; a relay loop in the writer's process selects up to 500
unpublished rows, sends them (acks=all, idempotent, linger 5 ms, as the platform's producer) and
marks them sent; a consumer process (manual commits after each fetched batch) inserts, per record
in one transaction (one commit, so one WAL flush, per record), an inbox row `ON CONFLICT DO
NOTHING` and, if new, the receipt notice. Same Kafka and PostgreSQL servers, same 12 partitions,
same effect and event times. {_ended(baseline or {})}

{_table(baseline or {}, [("write p50 ms", "http_p50_ms"), ("write p99 ms", "http_p99_ms")], "committed/s")}

### Where the CPU goes

CPU milliseconds per completed effect, per part of the stack (`bench/cpu.py`: user + system time
from `/proc`, the difference over the step including its drain, ÷ effects), at the highest step
that did not saturate. With everything on one 2-core machine, 2,000 ms of CPU per second is all
there is: 2,000 ÷ the total is the most effects per second this machine could give, whatever the
latency.

{_cpu_table(e2e or {}, baseline or {})}

"load generator + harness" is every `bench.*` process: for the baseline that includes its own
writer, relay and consumer. Kafka's share per effect falls as the rate rises: much of it is a
fixed cost (the broker answers every consumer group's fetch polls whatever the load, and was
started just before this part).

### Framework overhead and the targets

| what | measured | target (issue 8) |
|---|---|---|
| complaints/s kept up with p99 ≤ {TARGET_P99_MS:.0f} ms (highest such offered step) | {f"{met:,.0f} /s" if met else "no step"} | ≥ {TARGET_RATE:,.0f} /s |
| platform complaint capacity (best step's effects/s) | {_num(platform_cap, ",.1f")} /s | — |
| baseline capacity (best step's effects/s) | {_num(base_cap, ",.1f")} /s | — |
| platform ÷ baseline (framework-overhead figure){bound_note} | {_num(r, ".2f")}× | ≥ {TARGET_RATIO}× |

What the ratio compares: the platform side includes HTTP (uvicorn, FastAPI, JSON validation),
ES256 token verification, the complaint domain rules (SLA deadlines from the holiday calendar,
ticket numbers, follow-up token hashing), the relay's leader and pass locks and per-key ordering,
CloudEvents, the notice rules and their templates, and work on the same machine that the measured
path does not wait for but shares the two cores with: the inspections service consuming every
complaint (patrol triggers), the exposure and notifications services' other subscribers, jobs and
metrics. The baseline is the bare transactional skeleton of the same flow without HTTP. So the
gap is framework + HTTP + domain work, more than the framework alone costs. In the other
direction, whatever the platform does that the baseline does not (e.g. a consumer that groups
records into one transaction, where the baseline commits per record) counts in the platform's
favour. Both run on the same servers in the same `make bench`, one after the other, each with
the machine to itself.

![end-to-end throughput](performance/e2e-throughput.png)

![end-to-end latency](performance/e2e-latency.png)
"""


def _cpu_step(flow: dict[str, Any]) -> dict[str, Any] | None:
    steps: list[dict[str, Any]] = [s for s in flow.get("steps", []) if s.get("cpu_ms_per_effect")]
    calm = [s for s in steps if not s.get("saturated")]
    chosen = calm or steps
    return chosen[-1] if chosen else None


def _cpu_table(e2e: dict[str, Any], baseline: dict[str, Any]) -> str:
    candidates = [
        ("complaints", _cpu_step(e2e.get("complaints", {}))),
        ("failed inspections", _cpu_step(e2e.get("inspections", {}))),
        ("baseline", _cpu_step(baseline)),
    ]
    flows = [(name, step) for name, step in candidates if step is not None]
    if not flows:
        return "Not measured in these results."
    labels = sorted({k for _, step in flows for k in step["cpu_ms_per_effect"]})
    head = (
        "| part | "
        + " | ".join(f"{name} at {step['offered_per_s']:,.0f}/s" for name, step in flows)
        + " |"
    )
    rule = "|---|" + "---|" * len(flows)
    rows = [
        f"| {label} | "
        + " | ".join(f"{step['cpu_ms_per_effect'].get(label, 0.0):.2f}" for _, step in flows)
        + " |"
        for label in labels
    ]
    totals = [sum(step["cpu_ms_per_effect"].values()) for _, step in flows]
    rows.append("| **total ms per effect** | " + " | ".join(f"**{t:.2f}**" for t in totals) + " |")
    rows.append(
        "| most effects/s 2 cores allow | "
        + " | ".join(f"{2000 / t:,.0f}" if t else "—" for t in totals)
        + " |"
    )
    return "\n".join([head, rule, *rows])


def charts(e2e: dict[str, Any], baseline: dict[str, Any], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [
        ("complaints (platform)", _steps(e2e.get("complaints", {}) if e2e else {}), "tab:blue"),
        ("failed inspections (platform)", _steps(e2e.get("inspections", {}) if e2e else {}), "tab:orange"),
        ("baseline", _steps(baseline or {}), "tab:green"),
    ]  # fmt: skip
    series = [s for s in series if s[1]]
    if not series:
        return []
    out.mkdir(parents=True, exist_ok=True)
    made = []

    def y(rows: list[dict[str, Any]], key: str) -> list[float]:
        return [math.nan if r.get(key) is None else float(r[key]) for r in rows]

    rates = sorted({float(r["offered_per_s"]) for _, rows, _ in series for r in rows})

    def axes(ax: Any) -> None:
        from matplotlib.ticker import FuncFormatter, NullLocator

        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(rates)
        ax.xaxis.set_minor_locator(NullLocator())
        plain = FuncFormatter(lambda v, _: f"{v:,.0f}")
        ax.xaxis.set_major_formatter(plain)
        ax.yaxis.set_major_formatter(plain)
        ax.set_xlabel("offered load (requests/s)")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))

    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot([rates[0], rates[-1]], [rates[0], rates[-1]], color="grey", linewidth=0.8,
            linestyle=":", label="offered")  # fmt: skip
    for label, rows, color in series:
        x = [r["offered_per_s"] for r in rows]
        ax.plot(
            x, y(rows, "effects_per_s"), "-", marker="o", color=color, label=f"{label} effects/s"
        )
        ax.plot(x, y(rows, "accepted_per_s"), "--", marker=".", color=color, alpha=0.6,
                label=f"{label} accepted/s")  # fmt: skip
    ax.axhline(TARGET_RATE, color="red", linewidth=0.8, label="target 2,000 complaints/s")
    ax.set_ylabel("per second")
    ax.set_title("End to end: throughput vs offered load")
    axes(ax)
    fig.tight_layout()
    fig.savefig(out / "e2e-throughput.png", dpi=110)
    made.append("performance/e2e-throughput.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for label, rows, color in series:
        x = [r["offered_per_s"] for r in rows]
        for key, style in (("p50_ms", ":"), ("p95_ms", "--"), ("p99_ms", "-")):
            ax.plot(x, y(rows, key), style, marker="o", color=color, label=f"{label} {key[:-3]}")
    ax.axhline(TARGET_P99_MS, color="red", linewidth=0.8, label="target p99 250 ms")
    ax.set_ylabel("event time → effect time (ms)")
    ax.set_title("End to end: latency percentiles vs offered load")
    axes(ax)
    fig.tight_layout()
    fig.savefig(out / "e2e-latency.png", dpi=110)
    made.append("performance/e2e-latency.png")
    plt.close(fig)
    return made
