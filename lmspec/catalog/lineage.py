"""Upstream trees of artifacts, down to the raw inputs, from the catalog's input edges."""

from __future__ import annotations

from typing import Any

from lmspec.catalog.store import ArtifactRecord, Catalog

KEY_CONFIG_FIELDS = (
    "paths",
    "format",
    "method",
    "rules",
    "vocab_size",
    "tokenizer",
    "data",
    "model",
    "optimizer",
    "steps",
    "batch_size",
    "init_from",
    "lm_eval",
    "perplexity",
    "jaccard",
)
"""Config fields worth showing in a lineage node (the rest is in `catalog show`)."""


def lineage_tree(catalog: Catalog, record: ArtifactRecord) -> dict[str, Any]:
    """{step, kind, hash, status, output_path, config (key fields), inputs: [subtrees]}; shared inputs repeat."""
    seen: dict[str, dict[str, Any]] = {}

    def node(rec: ArtifactRecord) -> dict[str, Any]:
        if rec.output_path in seen:
            return seen[rec.output_path]
        children = []
        for name, path in sorted(rec.inputs.items()):
            upstream = catalog.find(path)
            children.append(node(upstream) if upstream else {"step": name, "output_path": path, "missing": True})
        seen[rec.output_path] = {
            "step": rec.step_name,
            "kind": rec.kind,
            "hash": rec.hash,
            "status": rec.status,
            "output_path": rec.output_path,
            "config": {k: rec.config[k] for k in KEY_CONFIG_FIELDS if k in rec.config},
            "inputs": children,
        }
        return seen[rec.output_path]

    return node(record)


def render_tree(tree: dict[str, Any]) -> Any:
    """A rich Tree of a lineage dict."""
    from rich.markup import escape
    from rich.tree import Tree

    def label(n: dict[str, Any]) -> str:
        if n.get("missing"):
            return f"[bold]{n['step']}[/] [red](not in the catalog)[/] {escape(n['output_path'])}"
        config = ", ".join(f"{k}={_short(v)}" for k, v in n["config"].items())
        return (
            f"[bold]{n['step']}[/]  [dim]{n['kind']}[/]  [cyan]{n['hash']}[/]  {n['status']}  [dim]{escape(config)}[/]"
        )

    def add(parent: Tree, n: dict[str, Any]) -> None:
        branch = parent.add(label(n))
        for child in n.get("inputs", []):
            add(branch, child)

    root = Tree(label(tree))
    for child in tree.get("inputs", []):
        add(root, child)
    return root


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
