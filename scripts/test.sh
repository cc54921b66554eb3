#!/usr/bin/env bash
# Set up the environment if needed, then lint, type-check and run the tests. Extra arguments go to pytest,
# e.g. `scripts/test.sh -m "not integration"` for the fast tier.
source "$(dirname "$0")/env.sh"
cd "$LMSPEC_REPO"
ruff check lmspec tests bench
ruff format --check lmspec tests bench
mypy lmspec
# pytest exits 5 when it collects no tests: that is a broken suite, not a pass, so it is not special-cased.
pytest "$@"
