#!/usr/bin/env bash
# Make the README screenshots with a real X11 window: Xvfb on display :99, Qt's xcb platform.
#
#   docs/screenshots/make_screenshots.sh [PYTHON]
#
# Needs the Debian packages xvfb, libxcb-icccm4 and libxcb-keysyms1 (Qt's xcb plugin), the
# demo study's files in resources/demo and the MM-NeuroOnco files in ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${1:-.venv/bin/python}"
display=":99"

Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp &
xvfb_pid=$!
trap 'kill "$xvfb_pid"' EXIT
for _ in $(seq 50); do
    DISPLAY="$display" xdpyinfo >/dev/null 2>&1 && break
    sleep 0.1
done

DISPLAY="$display" QT_QPA_PLATFORM=xcb "$python" docs/screenshots/make_screenshots.py docs/screenshots
