#!/usr/bin/env bash
# Set up the environment (Python 3.12 + the locked packages), make the quickstart's corpus offline,
# run the experiment end to end (filter ablation -> two tiny MaxText models -> evaluation), and report.
source "$(dirname "$0")/env.sh"
cd "$LMSPEC_REPO"
set -euo pipefail
lmspec validate specs examples
python examples/quickstart_data.py
lmspec run examples/quickstart.toml "$@"
lmspec report examples/quickstart.toml "$@"
