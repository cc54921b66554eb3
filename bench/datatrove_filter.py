"""DataTrove's language + fastText classifier pipeline, for bench/filter_throughput.py only.

Runs in a separate venv that has `datatrove[processing]` (it pins its own fastText build). DataTrove
downloads lid.176 on first use; offline, the same model file lmspec uses is placed in its asset cache.

    DTVENV/bin/python bench/datatrove_filter.py INPUT_DIR OUTPUT_DIR CLASSIFIER LID_MODEL TASKS
"""

from __future__ import annotations

import os
import shutil
import sys
import time

from datatrove.executor import LocalPipelineExecutor
from datatrove.io import cached_assets_path
from datatrove.pipeline.filters import FastTextClassifierFilter, LanguageFilter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.lid import FT176LID
from fsspec.core import strip_protocol


def seed_lid_cache(lid_model: str) -> None:
    folder = cached_assets_path(library_name="datatrove", namespace="lid", subfolder=FT176LID.MODEL_SUBFOLDER)
    target = os.path.join(folder, strip_protocol(FT176LID.MODEL_URL).replace("/", "_"))  # as DataTrove names it
    if not os.path.exists(target + ".completed"):
        shutil.copyfile(lid_model, target)
        open(target + ".completed", "a").close()


def main() -> None:
    input_dir, output_dir, classifier, lid_model, tasks = sys.argv[1:6]
    seed_lid_cache(lid_model)
    start = time.perf_counter()
    LocalPipelineExecutor(
        pipeline=[
            JsonlReader(input_dir, glob_pattern="part-*.jsonl.gz"),
            LanguageFilter(languages=["en"], language_threshold=0.5),
            FastTextClassifierFilter(model_url=classifier, keep_labels=[("hq", 0.5)]),
            JsonlWriter(output_dir, compression="gzip"),
        ],
        tasks=int(tasks),
        workers=1,
        logging_dir=os.path.join(output_dir, "logs"),
    ).run()
    print(f"{time.perf_counter() - start:.3f}")


if __name__ == "__main__":
    main()
