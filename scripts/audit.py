"""Audit the locked dependencies for known vulnerabilities with pip-audit; print a JSON summary.

Usage: `.venv/bin/python scripts/audit.py [--lock requirements.lock] [--require-service]`

Exit status: 1 when any locked package has a known vulnerability; 0 otherwise. When the
vulnerability service cannot be reached at all, or answers for none of the packages, the
summary says so (`"audited": 0`) and the exit status is 0 unless `--require-service` is given,
so an offline machine is told, not failed. Packages the service does not know are listed as
`skipped` (pip-audit's own wording: "not found on PyPI").
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def run_pip_audit(lock: Path, timeout: int) -> tuple[int, dict | None, str]:
    """Run pip-audit on the lock file without resolving; return (status, report, stderr)."""
    with tempfile.TemporaryDirectory() as folder:
        report_path = Path(folder) / "audit.json"
        command = [
            sys.executable,
            "-m",
            "pip_audit",
            "--requirement",
            str(lock),
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "--timeout",
            "30",
            "--format",
            "json",
            "--output",
            str(report_path),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        report = json.loads(report_path.read_text()) if report_path.exists() else None
    return done.returncode, report, done.stderr


def summarise(report: dict) -> dict:
    """Counts and the vulnerable packages from a pip-audit JSON report."""
    packages = report.get("dependencies", [])
    skipped = [p["name"] for p in packages if "skip_reason" in p]
    vulnerable = [
        {"name": p["name"], "version": p["version"], "ids": [v["id"] for v in p["vulns"]]}
        for p in packages
        if p.get("vulns")
    ]
    return {
        "packages": len(packages),
        "audited": len(packages) - len(skipped),
        "skipped": skipped,
        "vulnerable": vulnerable,
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lock", type=Path, default=Path("requirements.lock"))
    parser.add_argument("--require-service", action="store_true")
    parser.add_argument("--timeout", type=int, default=900, help="seconds for the whole audit")
    args = parser.parse_args(argv)
    status, report, stderr = run_pip_audit(args.lock, args.timeout)
    if report is None:
        summary = {"error": "pip-audit produced no report", "status": status, "stderr": stderr}
        print(json.dumps(summary, indent=2))
        return 1 if args.require_service else 0
    summary = summarise(report)
    print(json.dumps({**summary, "skipped": len(summary["skipped"])}, indent=2))
    if summary["vulnerable"]:
        return 1
    if summary["audited"] == 0:
        print(
            "warning: the vulnerability service answered for none of the locked packages",
            file=sys.stderr,
        )
        return 1 if args.require_service else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
