"""Alerting hooks: when a run reveals regressions, a JSON message is POSTed to a webhook and/or
appended as one line to a JSONL file.

An alert that cannot be delivered (webhook down, disk full) is reported on stderr and never
stops the monitoring round: the history already holds the regression.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from mssante_conformance.monitor.history import MonitorRun

WEBHOOK_TIMEOUT_S = 10
USER_AGENT = "mssante-conformance-monitor"


def regression_message(run: MonitorRun, titles: dict[str, str] | None = None) -> dict:
    """The JSON alert for ``run``'s regressions (French text, stable keys)."""
    titles = titles or {}
    checks = [{"id": c, "titre": titles.get(c, ""), "raison": run.reasons.get(c, "")}
              for c in run.changes.regressions]
    return {
        "type": "regression",
        "cible": run.target,
        "organisation": run.organisation,
        "tour": run.round_id,
        "lancement": run.id,
        "date": run.finished_at,
        "verdict": run.verdict,
        "rapport": run.report_path,
        "controles": checks,
        "texte": f"{run.target} : régression sur {', '.join(run.changes.regressions)}",
    }


class Alerter:
    def __init__(self, webhook_url: str | None = None, jsonl_path: str | Path | None = None):
        self.webhook_url = webhook_url
        self.jsonl_path = Path(jsonl_path) if jsonl_path else None
        self._lock = threading.Lock()
        self.failures: list[str] = []

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url or self.jsonl_path)

    def regression(self, run: MonitorRun, titles: dict[str, str] | None = None) -> None:
        if not run.changes.regressions or not self.enabled:
            return
        message = regression_message(run, titles)
        if self.jsonl_path:
            self._append(message)
        if self.webhook_url:
            self._post(message)

    def _append(self, message: dict) -> None:
        line = json.dumps(message, ensure_ascii=False) + "\n"
        try:
            with self._lock, open(self.jsonl_path, "a", encoding="utf-8") as out:
                out.write(line)
        except OSError as exc:
            self._failed(f"alerte non écrite dans {self.jsonl_path} : {exc.strerror or exc}")

    def _post(self, message: dict) -> None:
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.webhook_url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
                response.read(1024)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self._failed(f"alerte non remise au webhook : {exc}")

    def _failed(self, text: str) -> None:
        self.failures.append(text)
        print(f"mssante-conformance monitor: {text}", file=sys.stderr)
