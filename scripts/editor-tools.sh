#!/usr/bin/env bash
# Install the editor-side validators the schema tests run (taplo for TOML, ajv for YAML), the versions
# editors use, into a cache folder; print the folder holding their executables.
# Needs node and npm (Debian: apt-get install nodejs npm); installs them when missing and run as root.
set -euo pipefail
TAPLO_VERSION="0.7.0"   # @taplo/cli (taplo 0.9), as Even Better TOML bundles
AJV_VERSION="5.0.0"     # ajv-cli (ajv 8: draft 2020-12, the semantics yaml-language-server follows)
tools="${LMSPEC_EDITOR_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lmspec/editor-tools-$TAPLO_VERSION-$AJV_VERSION}"
if [ ! -x "$tools/node_modules/.bin/taplo" ] || [ ! -x "$tools/node_modules/.bin/ajv" ]; then
  if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
  fi
  mkdir -p "$tools"
  npm install --silent --no-audit --no-fund --prefix "$tools" "@taplo/cli@$TAPLO_VERSION" "ajv-cli@$AJV_VERSION" >&2
fi
echo "$tools/node_modules/.bin"
