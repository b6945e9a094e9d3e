"""Production monitoring of many operators: the monitoring profile on a schedule, a history per
operator in the console's store, regressions and recoveries, alerts.

* :mod:`targets` — ``targets.toml``: the operators to watch (endpoints, MX, schedule).
* :mod:`schedule` — when each target is due (interval + jitter, injectable clock).
* :mod:`history` — the ``monitor_*`` tables of the console's SQLite store; regressions.
* :mod:`alerts` — a regression becomes a webhook POST and/or a JSONL line.
* :mod:`runner` — due targets run concurrently (bounded), each within its deadline.

See docs/monitor.md.
"""
