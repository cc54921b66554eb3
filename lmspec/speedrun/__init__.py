"""Speedrun: training submissions on a fixed track, within a FLOPs budget, ranked by held-out bits-per-byte.

track      the tracks lmspec ships (`tracks/<name>.toml` and the fixed steps in `<name>.steps.toml`)
corpus     the tiny track's generated stories
workspace  the track's files written beside a submission (`track/`)
rules      what a submission's plan must keep: one training step, the fixed steps, data, budget, hardware
check      `lmspec speedrun check`: the [speedrun] table, then the spec compiled and held to the rules
run        `lmspec speedrun run`: the plan run by `lmspec run`'s runner, then results.json
results    the results file: its shape, digest and internal consistency
verify     one committed submission accepted or rejected, with the reason
board      every submission under a folder verified and ranked, with the Pareto frontier
render     the board as Markdown and HTML; plot: as a figure
"""
