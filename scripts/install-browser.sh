#!/bin/sh
# Install Debian's chromium when no browser is found, and Debian's chromium-headless-shell (about half the
# memory of full Chromium when headless), when we are allowed to (root or passwordless sudo).
set -e
NEED_CHROMIUM=1
python_finder() { "${PYTHON:-python3}" -m watui.core.browser.chromium --quiet 2>/dev/null; }
if python_finder; then NEED_CHROMIUM=0; fi
if [ "$NEED_CHROMIUM" = 0 ] && [ -x /usr/bin/chromium-headless-shell ]; then exit 0; fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  if [ "$NEED_CHROMIUM" = 0 ]; then
    echo "watui: tip: 'sudo apt-get install chromium-headless-shell' makes headless runs lighter." >&2
    exit 0
  fi
  echo "watui: no Chromium found. Install one: 'sudo apt-get install chromium chromium-headless-shell'" \
       "(Debian/Ubuntu), or 'playwright install chromium' where Playwright's download site is reachable." >&2
  exit 1
fi
echo "watui: installing Debian's chromium and chromium-headless-shell packages..." >&2
$SUDO apt-get update -qq
if [ "$NEED_CHROMIUM" = 1 ]; then $SUDO apt-get install -y -qq chromium >/dev/null; fi
# The headless shell is optional: a distribution without the package keeps full Chromium.
$SUDO apt-get install -y -qq chromium-headless-shell >/dev/null 2>&1 || \
  echo "watui: chromium-headless-shell not available here; using full Chromium" >&2
python_finder || test -x /usr/bin/chromium
