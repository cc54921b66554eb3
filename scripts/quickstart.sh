#!/usr/bin/env bash
# Set up the environment (Python 3.12 + the locked packages) and run the quickstart experiment.
source "$(dirname "$0")/env.sh"
cd "$LMSPEC_REPO"
lmspec validate specs examples
# Until the runtime lands (issue #3), the quickstart ends at its compiled plan.
lmspec compile examples/quickstart.toml
