"""Data curation steps: ingest, extract, sample, llm_label, train_classifier, filter, dedup (the rules a filter
applies are in `lmspec.schemas.rules`)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from lmspec.schemas.base import (
    DataStepBase,
    DocumentsRef,
    DocumentsRefOrPath,
    OutputKind,
    Problems,
    RawInput,
    StepBase,
    added_later,
    execution_only,
)
from lmspec.schemas.kinds import step_kind
from lmspec.schemas.labels import AttributeLabel, AttributeName, Label, ModelRefOrPath, YesProbability, prompt_errors
from lmspec.schemas.rules import FilterRule


@step_kind(executor="lmspec.runtime.data.ingest")
class Ingest(DataStepBase):
    """Read raw documents from local paths or fsspec URLs into lmspec's document shards."""

    kind: Literal["ingest"]
    output: ClassVar[OutputKind] = "documents"
    implementation: ClassVar[int] = 2
    """2: a record keeps its own `id` when `id_field` is unset (1 numbered every record `<file>:<line>`)."""

    paths: list[Annotated[str, RawInput(hub_when=("format", "huggingface"))]] = Field(min_length=1)
    """Files or glob patterns: local paths (relative to the spec file) or fsspec URLs (gs://, s3://, hf://);
    for `format = "huggingface"`, dataset names on the Hub or local dataset directories."""
    format: Literal["warc", "jsonl", "parquet", "text", "huggingface", "chat", "preference"]
    """How the files are encoded (`.gz`/`.zst` compression is detected from the name); `huggingface` loads
    each path with `datasets.load_dataset`, streaming. `chat` (`{"messages": [{"role", "content"}]}`) and
    `preference` (`{"prompt", "chosen", "rejected"}`, strings or message lists) read JSONL or Parquet files
    (a Hugging Face dataset's files) for sft and dpo steps."""
    split: str = "train"
    """huggingface: the split to read."""
    subset: str | None = None
    """huggingface: the dataset configuration (e.g. `sample-10BT`); None for the default."""
    text_field: str = "text"
    """For jsonl/parquet: the field that holds the document text."""
    id_field: str | None = None
    """For jsonl/parquet/huggingface: the field that holds a stable document id; None uses the record's own
    `id` field when it is a non-empty string or an integer (as DataTrove and Dolma do), else
    `<file name>:<record number>`."""
    max_documents: int | None = Field(default=None, ge=1)
    """Stop after this many documents (for quick experiments); None reads everything."""


@step_kind(executor="lmspec.runtime.data.extract")
class Extract(DataStepBase):
    """Turn HTML documents into plain text."""

    kind: Literal["extract"]
    output: ClassVar[OutputKind] = "documents"

    input: DocumentsRef
    """Documents whose text is HTML (usually an ingest of WARC files)."""
    method: Literal["resiliparse", "trafilatura"] = "resiliparse"
    """The HTML-to-text extractor."""
    main_content: bool = True
    """Keep only the main content (drop navigation, footers and boilerplate)."""
    min_length: int = Field(default=1, ge=0)
    """Drop documents whose extracted text is shorter than this many characters."""


@step_kind(executor="lmspec.runtime.data.sample")
class Sample(DataStepBase):
    """A seeded random sample of documents: `count` of them, or about `fraction` of them.

    Whether a document is drawn depends only on the seed and the document (its id and text), never on the
    shards or the order they come in, so adding documents to the input never swaps the old ones drawn.
    """

    kind: Literal["sample"]
    output: ClassVar[OutputKind] = "documents"

    input: DocumentsRef
    """The documents to sample from."""
    count: int | None = Field(default=None, ge=1)
    """Draw exactly this many documents (all of them when the input has fewer)."""
    fraction: float | None = Field(default=None, gt=0.0, le=1.0)
    """Draw each document with this probability, independently."""
    seed: int = Field(default=0, ge=0)
    """Another seed draws another sample."""

    def cross_field_errors(self) -> Problems:
        if (self.count is None) == (self.fraction is None):
            return [(("count",), "give exactly one of `count` or `fraction`")]
        return []


@step_kind(executor="lmspec.runtime.data.llm_label")
class LlmLabel(StepBase):
    """Score documents with a language model's answer to a prompt (Ask-LLM's yes-probability, FineWeb-Edu's
    0-5 score), written as a document attribute; runs the model in-process, in batches, shard by shard (a
    killed run resumes at the first shard it had not finished)."""

    kind: Literal["llm_label"]
    output: ClassVar[OutputKind] = "documents"

    input: DocumentsRef
    """The documents to label (often a `sample` of a pool)."""
    model: ModelRefOrPath
    """The labeller: a model step (`"@name"`, e.g. train or sft), or a local Hugging Face model directory
    (config, weights and tokenizer, as `save_pretrained` writes them; run with transformers and PyTorch)."""
    prompt: str = Field(default="ask_llm", min_length=1)
    """A named prompt (`ask_llm`, `fineweb_edu`) or a template containing `{text}`; the model's answer is
    read right after it, as ` yes`/` no` or ` 0` ... ` 5`."""
    label: Label = Field(default_factory=lambda: YesProbability(kind="yes_probability"))
    """How the answer becomes a number: `{ kind = "yes_probability" }`, or `{ kind = "score", choices = [...] }`
    (the expected value over numeric answers)."""
    attribute: AttributeName = "llm_label"
    """The document attribute the score is written under."""
    max_chars: int = Field(default=2000, ge=1)
    """Documents are cut to this many characters (counted as `truncated`), and further to fit the model's
    context with the prompt around them."""
    batch_size: int = execution_only(default=16, ge=1, le=4096)
    """Documents per forward pass; execution-only (any batch size gives the same scores)."""
    on_error: Literal["fail", "skip"] = "fail"
    """`skip` drops a bad record (counted in stats) instead of failing the step; empty documents are always
    dropped and counted (`empty`), since they hold nothing to judge."""
    compression: Literal["gzip", "zstd"] = "gzip"
    """Codec of the output shards, as for the other data steps."""

    def cross_field_errors(self) -> Problems:
        return prompt_errors(self.prompt, self.label)


@step_kind(executor="lmspec.runtime.data.train_classifier")
class TrainClassifier(StepBase):
    """Train a fastText classifier that tells positive (e.g. high-quality) documents from negative ones:
    given as `positive` and `negative` inputs, or as one `input` whose documents carry a score (an
    `llm_label` step's) that `label = { attribute, threshold }` splits into the two classes."""

    kind: Literal["train_classifier"]
    output: ClassVar[OutputKind] = "classifier"

    positive: list[DocumentsRefOrPath] = Field(default_factory=list)
    """Examples of the label: document steps (`"@name"`) or JSONL files and globs with a `text` field
    (relative to the spec file, `.gz`/`.zst` read as such)."""
    negative: list[DocumentsRefOrPath] = Field(default_factory=list)
    """Counter-examples, given the same way as `positive`."""
    input: DocumentsRef | None = added_later(default=None)
    """With `label = { attribute, threshold }`: the scored documents (e.g. an `llm_label` step), instead of
    `positive` and `negative`."""
    label: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")] | AttributeLabel = "hq"
    """Name of the positive label (filter rules select it with `label`), or `{ attribute, threshold }`: the
    classes of `input`'s documents by a score attribute, the positive one named `hq`."""
    max_examples_per_class: int = Field(default=50_000, ge=1)
    """Sample at most this many documents from each side (balanced classes)."""
    epochs: int = Field(default=5, ge=1, le=1000)
    """fastText training epochs."""
    lr: float = Field(default=0.1, gt=0.0, le=10.0)
    """fastText learning rate."""
    word_ngrams: int = Field(default=2, ge=1, le=5)
    """Longest word n-gram used as a feature."""
    dim: int = Field(default=100, ge=2, le=1024)
    """Embedding dimension."""
    min_count: int = Field(default=1, ge=1)
    """Ignore words seen fewer times than this."""
    validation_fraction: float = Field(default=0.1, ge=0.0, lt=0.5)
    """Share of the sampled examples held out to report precision and recall."""
    seed: int = Field(default=0, ge=0)
    """Seed for sampling and the train/validation split."""

    def cross_field_errors(self) -> Problems:
        if isinstance(self.label, AttributeLabel):
            if self.input is None:
                return [(("input",), "label = { attribute, threshold } needs the scored documents as `input`")]
            return [
                ((side,), f"with label = {{ attribute, threshold }} the classes come from `input`; remove `{side}`")
                for side in ("positive", "negative")
                if getattr(self, side)
            ]
        if self.input is not None:
            return [(("input",), "`input` goes with label = { attribute, threshold }; or use positive/negative")]
        problems: Problems = [
            ((side,), f"needs at least one {side} example source (a step or JSONL files)")
            for side in ("positive", "negative")
            if not getattr(self, side)
        ]
        return problems + [
            (("negative",), f"{ref} is both positive and negative; a class cannot be its own counter-example")
            for ref in sorted(set(self.positive) & set(self.negative))
        ]


@step_kind(executor="lmspec.runtime.data.filter")
class Filter(DataStepBase):
    """Keep the documents that pass every rule, in order; records each rule's score as an attribute."""

    kind: Literal["filter"]
    output: ClassVar[OutputKind] = "documents"

    input: DocumentsRef
    """The documents to filter."""
    rules: list[FilterRule] = Field(min_length=1)
    """Rules applied in order; a document is kept only if it passes all of them."""
    mode: Literal["filter", "annotate"] = "filter"
    """`annotate` keeps every document and writes each rule's score and verdict into `attributes`, so an
    ablation can filter later at several thresholds without scoring again."""
    scores: DocumentsRef | None = execution_only(default=None)
    """Set by `lmspec compile` (never by hand) on each point of a sweep over this filter's thresholds: the
    shared annotate step whose scores it selects from instead of scoring again; the output is the same."""

    def cross_field_errors(self) -> Problems:
        return [
            (("rules", i, *path), message)
            for i, rule in enumerate(self.rules)
            for path, message in rule.cross_field_errors()
        ]


@step_kind(executor="lmspec.runtime.data.dedup")
class Dedup(DataStepBase):
    """Remove exact or near-duplicate documents."""

    kind: Literal["dedup"]
    output: ClassVar[OutputKind] = "documents"

    input: DocumentsRef
    """The documents to deduplicate."""
    method: Literal["exact", "minhash"] = "minhash"
    """`exact` drops repeats of the same normalised text; `minhash` drops near-duplicates (LSH)."""
    jaccard: float = Field(default=0.8, gt=0.0, le=1.0)
    """minhash: estimated Jaccard similarity above which two documents are duplicates."""
    num_perm: int = Field(default=128, ge=16, le=1024)
    """minhash: number of hash permutations (signature length)."""
    ngram: int = Field(default=5, ge=1, le=32)
    """minhash: word n-gram size of the shingles."""
    bands: int | None = Field(default=None, ge=1)
    """minhash: LSH bands (num_perm / bands rows each); None picks them so pairs at `jaccard` are found
    with probability >= 0.995, candidates then being checked on the whole signature."""
    seed: int = Field(default=0, ge=0)
    """minhash: seed of the hash permutations."""

    def cross_field_errors(self) -> Problems:
        if self.method == "minhash":
            if self.bands is not None and self.bands > self.num_perm:
                return [(("bands",), f"must be at most num_perm ({self.num_perm}), got {self.bands}")]
            return []
        misplaced = sorted(self.model_fields_set & {"jaccard", "num_perm", "ngram", "seed", "bands"})
        return [
            ((name,), 'applies only to method = "minhash"; remove it or set method = "minhash"') for name in misplaced
        ]
