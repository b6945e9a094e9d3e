"""What a run tells the process that started it: exit codes and the progress file.

Shared by the CLI (which returns the codes), the pytest plugin (which writes the progress
file) and the console worker (which reads both), so that they cannot drift apart.
"""

from __future__ import annotations

EXIT_CONFORME = 0
EXIT_NON_CONFORME = 1
EXIT_USAGE = 2
EXIT_NO_VERDICT = 3  # incomplet, or no check was carried out
EXIT_INTERRUPTED = 130
# `monitor --once`: a regression appeared (1), or no target was evaluated (3).
EXIT_REGRESSION = 1
EXIT_NOTHING_EVALUATED = EXIT_NO_VERDICT

EXIT_BY_VERDICT = {
    "conforme": EXIT_CONFORME,
    "non_conforme_majeure": EXIT_NON_CONFORME,
    "non_conforme_bloquante": EXIT_NON_CONFORME,
    "incomplet": EXIT_NO_VERDICT,
}

# One JSON object per finished check, appended as the run goes (see plugin._progress).
PROGRESS_FILE = "progress.jsonl"
