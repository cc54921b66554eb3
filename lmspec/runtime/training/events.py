"""Per-step training curves from MaxText's TensorBoard event files.

The TensorBoard directory, not MaxText's `metrics_file`, is the source: MaxText truncates its metrics
file whenever it writes a metric at step 0, which every evaluation round does, so that file loses the
curve. Event files are TFRecords of `Event` protos (read with tensorboardX's bundled proto, no
TensorFlow). A resumed run writes a new event file that repeats the steps after its checkpoint; files
are read in creation order, so for every step the last run's value wins.
"""

from __future__ import annotations

import struct
from pathlib import Path

SERIES = {
    "learning/loss": "loss",
    "learning/current_learning_rate": "lr",
    "learning/grad_norm": "grad_norm",
    "perf/step_time_seconds": "step_time_s",
    "perf/per_device_tokens_per_sec": "tokens_per_s_per_device",
    "perf/per_device_tflops_per_sec": "tflops_per_device",
    "eval/avg_loss": "eval_loss",
    "learning/reward_accuracy": "preference_accuracy",
    "learning/reward_margin": "reward_margin",
    "learning/rewards/chosen": "chosen_reward",
    "learning/rewards/rejected": "rejected_reward",
    "learning/log_probs/chosen": "chosen_logps",
    "learning/log_probs/rejected": "rejected_logps",
}
"""MaxText scalar tag -> the series name lmspec records (for dpo, Tunix's metrics as `dpo_maxtext` writes them)."""

Series = dict[str, list[tuple[int, float]]]


def read_series(folder: Path) -> Series:
    """name -> [(step, value)] in step order, from every event file under `folder`."""
    values: dict[str, dict[int, float]] = {}
    for path in sorted(folder.rglob("events.out.tfevents.*"), key=_created):
        for step, tag, value in _scalars(path):
            if tag in SERIES:
                values.setdefault(SERIES[tag], {})[step] = value
    return {name: sorted(points.items()) for name, points in values.items()}


def _created(path: Path) -> tuple[int, str]:
    """Event files are named `events.out.tfevents.<unix seconds>.<host>[...]`."""
    parts = path.name.split(".")
    return (int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else 0, path.name)


def _scalars(path: Path) -> list[tuple[int, str, float]]:
    from tensorboardX.proto import event_pb2

    found: list[tuple[int, str, float]] = []
    for record in _records(path.read_bytes()):
        event = event_pb2.Event.FromString(record)
        for value in event.summary.value:
            if value.HasField("simple_value"):
                found.append((int(event.step), value.tag, float(value.simple_value)))
    return found


def _records(data: bytes) -> list[bytes]:
    """TFRecord framing: u64 length, u32 CRC of it, payload, u32 CRC. A killed writer leaves a torn last
    record, which is dropped (the resumed run writes those steps again)."""
    records, offset = [], 0
    while offset + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        end = offset + 12 + length + 4
        if end > len(data):
            break
        records.append(data[offset + 12 : offset + 12 + length])
        offset = end
    return records
