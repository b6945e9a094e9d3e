"""The `check` marker: collection fails for an unknown id, a duplicated id, and a catalog check
of a collected family without a test (run through a real pytest subprocess)."""

import subprocess
import sys
import textwrap


def collect(tmp_path, body: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(body))
    return subprocess.run([sys.executable, "-m", "pytest", str(tmp_path), "--collect-only", "-q",
                           "-p", "no:cacheprovider", "--rootdir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)


TLS_CHECKS = "".join(
    f'@pytest.mark.check("LPS-TLS-0{i}")\ndef test_{i}(): pass\n' for i in range(1, 7))


def test_complete_family_collects(tmp_path):
    proc = collect(tmp_path, "import pytest\n" + TLS_CHECKS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6 tests collected" in proc.stdout


def test_unknown_check_id_fails_collection(tmp_path):
    proc = collect(tmp_path, "import pytest\n" + TLS_CHECKS + '@pytest.mark.check("LPS-TLS-99")\ndef test_x(): pass\n')
    assert proc.returncode == 4
    assert "LPS-TLS-99" in proc.stdout + proc.stderr and "not in catalog" in proc.stdout + proc.stderr


def test_duplicate_check_id_fails_collection(tmp_path):
    proc = collect(tmp_path, "import pytest\n" + TLS_CHECKS.replace('"LPS-TLS-06"', '"LPS-TLS-05"', 1)
                   .replace("def test_6", "def test_6b"))
    assert proc.returncode == 4
    assert "two tests" in proc.stdout + proc.stderr


def test_missing_check_of_a_family_fails_collection(tmp_path):
    body = "import pytest\n" + "".join(
        f'@pytest.mark.check("LPS-TLS-0{i}")\ndef test_{i}(): pass\n' for i in range(1, 6))
    proc = collect(tmp_path, body)
    assert proc.returncode == 4
    assert "catalog checks without a test: LPS-TLS-06" in proc.stdout + proc.stderr
