"""DataTrove's GopherQualityFilter over a JSONL file, for bench/gopher_minhash.py (run in DataTrove's venv).

    DTVENV/bin/python bench/datatrove_gopher.py DOCS.jsonl VERDICTS.json
Writes {"seconds": s, "keep": [bool, ...]}; the time covers the filter calls only.
"""

from __future__ import annotations

import json
import sys
import time

from datatrove.data import Document
from datatrove.pipeline.filters import GopherQualityFilter


def main() -> None:
    source, target = sys.argv[1:3]
    with open(source) as f:
        docs = [Document(text=json.loads(line)["text"], id=str(i)) for i, line in enumerate(f)]
    gopher = GopherQualityFilter()
    gopher.filter(docs[0])  # load the tokenizer outside the timing
    start = time.perf_counter()
    keep = [gopher.filter(doc) is True for doc in docs]
    seconds = time.perf_counter() - start
    with open(target, "w") as f:
        json.dump({"seconds": seconds, "keep": keep}, f)


if __name__ == "__main__":
    main()
