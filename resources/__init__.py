"""Bundled resources: prompts, icons, styles and the demo study."""
from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent
