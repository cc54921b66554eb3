#!/usr/bin/env bash
# Install what the browser tests drive (tests/browser): Debian's headless Chromium and its WebDriver,
# chromium-driver, when missing (apt-get, as root on a Debian machine such as CI); print the driver's path.
# Selenium is given that path, so nothing is downloaded at test time (Playwright's and Selenium Manager's
# own browser downloads need the network).
set -euo pipefail
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "browser-tools: install chromium and chromium-driver (Debian: apt-get install chromium chromium-driver)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >&2 \
    || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >&2; }
fi
command -v chromedriver
