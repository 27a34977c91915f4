#!/usr/bin/env python
"""Fail when a user-facing string has no Chinese translation or the compiled catalogue is stale.

1. makemessages refreshes locale/zh_Hans/LC_MESSAGES/django.po from the code, so a new
   string that nobody translated shows up as untranslated;
2. every message must be translated and none fuzzy;
3. the committed django.mo must be what msgfmt makes of the committed django.po, so a fresh
   machine without gettext still serves Chinese.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
PY = sys.executable


def main() -> int:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    env.pop("DATABASE_URL", None)
    before = PO.read_text(encoding="utf-8")
    subprocess.run(
        [
            PY,
            "manage.py",
            "makemessages",
            "-l",
            "zh_Hans",
            "--no-obsolete",
            "--ignore=.venv",
            "--ignore=var",
            "--ignore=tests",
            "--ignore=bench",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    stats = subprocess.run(
        ["msgfmt", "--check-format", "--statistics", "-o", os.devnull, str(PO)],
        capture_output=True,
        text=True,
    )
    report = stats.stderr.strip()
    print(f"zh_Hans: {report}")
    problems = []
    if stats.returncode != 0:
        problems.append("msgfmt refused the catalogue")
    if "untranslated" in report or "fuzzy" in report:
        untranslated = subprocess.run(
            ["msgattrib", "--untranslated", "--no-wrap", str(PO)], capture_output=True, text=True
        ).stdout
        fuzzy = subprocess.run(
            ["msgattrib", "--only-fuzzy", "--no-wrap", str(PO)], capture_output=True, text=True
        ).stdout
        print(untranslated[-4000:])
        print(fuzzy[-4000:])
        problems.append("untranslated or fuzzy messages (run `make messages`, translate, commit)")
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "django.mo"
        subprocess.run(["msgfmt", "-o", str(fresh), str(PO)], check=True)
        if not MO.exists() or MO.read_bytes() != fresh.read_bytes():
            problems.append("django.mo is stale: run `make messages` and commit the .mo")
    if PO.read_text(encoding="utf-8") != before and os.environ.get("CI") != "true":
        print("note: django.po was refreshed from the code")
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
