#!/bin/sh
# The tools the test suite drives for real, beside the browser: age (opens a snapshot without watui),
# tmux (the dashboard as an SSH user sees it). Installs the missing ones from Debian when allowed to
# (root or passwordless sudo); otherwise says what is missing and leaves it to the tests to say so too.
set -e
missing=""
for tool in age tmux; do command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"; done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "watui: the tests need:$missing; install with 'sudo apt-get install$missing'" >&2
  exit 0
fi
echo "watui: installing Debian's$missing for the tests..." >&2
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq $missing >/dev/null
