#!/usr/bin/env bash
# Add NeuroOnco Workbench to the desktop's application menu for the current user: writes
# neuroonco-workbench.desktop, whose Exec line names this bundle's `neuroonco` by its
# absolute path, into $XDG_DATA_HOME/applications and the icon into the hicolor theme.
# Move the bundle, and run this again.
#
#   ./install-desktop-entry.sh            install or update the entry
#   ./install-desktop-entry.sh --remove   remove the entry and the icon
set -euo pipefail

bundle=$(cd "$(dirname "$0")" && pwd)
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
entry=$data_home/applications/neuroonco-workbench.desktop
svg_icon=$data_home/icons/hicolor/scalable/apps/neuroonco-workbench.svg
png_icon=$data_home/icons/hicolor/256x256/apps/neuroonco-workbench.png

case "${1:-}" in
  "") ;;
  --remove)
    rm -f "$entry" "$svg_icon" "$png_icon"
    echo "removed $entry and its icons"
    exit 0 ;;
  -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
  *) echo "error: unknown option '$1'; use --remove or --help" >&2; exit 2 ;;
esac

# The Exec key quotes the path; these characters would need escaping inside the quotes.
case "$bundle" in
  *'"'*|*'`'*|*'$'*|*'\'*|*'%'*)
    echo "error: the bundle path '$bundle' contains one of \" \` \$ \\ %; move the bundle to a plain path" >&2
    exit 1 ;;
esac
if [ ! -x "$bundle/neuroonco" ]; then
  echo "error: $bundle/neuroonco is missing; run this script from the bundle folder" >&2
  exit 1
fi

mkdir -p "$(dirname "$entry")" "$(dirname "$svg_icon")" "$(dirname "$png_icon")"
cp "$bundle/neuroonco-workbench.svg" "$svg_icon"
cp "$bundle/neuroonco-workbench.png" "$png_icon"
sed "s|^Exec=.*|Exec=\"$bundle/neuroonco\" gui|" "$bundle/neuroonco-workbench.desktop" > "$entry.tmp"
mv "$entry.tmp" "$entry"
if command -v update-desktop-database >/dev/null 2>&1; then
  update-desktop-database -q "$(dirname "$entry")" || true
fi
echo "installed $entry"
