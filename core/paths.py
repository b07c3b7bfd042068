"""Where the project's own files are, relative to the checkout (or the installed packages)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"
SLACK_MANIFEST = ROOT / "slack" / "manifest.yml"
SAMPLES = ROOT / "samples"
