#!/bin/sh
# Install Debian's chromium when no browser is found and we are allowed to (root or passwordless sudo).
set -e
if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "watui: no Chromium found. Install one: 'sudo apt-get install chromium' (Debian/Ubuntu)," \
       "or 'playwright install chromium' where Playwright's download site is reachable." >&2
  exit 1
fi
echo "watui: installing Debian's chromium package..." >&2
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
test -x /usr/bin/chromium
