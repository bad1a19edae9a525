#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it; its own download cannot work
# on a closed network).
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian chromium for the browser tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null
fi
