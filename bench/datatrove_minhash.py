"""DataTrove's four-stage MinHash deduplication, for bench/gopher_minhash.py (run in DataTrove's venv).

    DTVENV/bin/python bench/datatrove_minhash.py INPUT_DIR WORK_DIR TASKS
Prints the seconds for all four stages and the number of documents kept.
"""

from __future__ import annotations

import os
import sys
import time

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter


def main() -> None:
    source, work, tasks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    config = MinhashConfig()
    folder = {name: os.path.join(work, name) for name in ("signatures", "buckets", "remove", "out", "logs")}

    def reader() -> JsonlReader:
        return JsonlReader(source, glob_pattern="part-*.jsonl.gz")

    stages = [
        ([reader(), MinhashDedupSignature(output_folder=folder["signatures"], config=config)], tasks),
        (
            [MinhashDedupBuckets(input_folder=folder["signatures"], output_folder=folder["buckets"], config=config)],
            config.num_buckets,
        ),
        ([MinhashDedupCluster(input_folder=folder["buckets"], output_folder=folder["remove"], config=config)], 1),
        ([reader(), MinhashDedupFilter(input_folder=folder["remove"]), JsonlWriter(folder["out"])], tasks),
    ]
    start = time.perf_counter()
    for index, (pipeline, n) in enumerate(stages):
        LocalPipelineExecutor(
            pipeline=pipeline, tasks=n, workers=1, logging_dir=os.path.join(folder["logs"], str(index))
        ).run()
    print(f"{time.perf_counter() - start:.3f}")


if __name__ == "__main__":
    main()
