"""Early cutoff: a step whose inputs were re-made with the same bytes need not run again.

A step's hash names its inputs by *their* hashes, so any upstream config change gives every dependent a
new hash and output path. Once the inputs exist, their content is known: the *cutoff key* is the step's
fingerprint with each input reference replaced by that input's content fingerprint. Two executions with
the same cutoff key read the same bytes with the same settings, so the earlier output is reused (by
`lmspec.runtime.reuse`) instead of being computed again. Before the inputs exist, `compile` can only say
that a step whose own settings did not change (`lmspec.compiler.diff.own_field_changes`) runs *if its
inputs change*.

Pure functions over fingerprints (`lmspec.compiler.identity.fingerprint`); reading outputs is elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any


def cutoff_key(fingerprint: Mapping[str, Any], contents: Mapping[str, str]) -> str:
    """The step's fingerprint with each input hash (`contents` keys) replaced by its output's content
    fingerprint (`contents` values), hashed. Equal keys: same settings over the same input bytes."""
    by_reference = {f"@{digest}": f"content:{content}" for digest, content in contents.items()}
    replaced = _map_strings(dict(fingerprint), lambda text: by_reference.get(text, text))
    text = json.dumps(replaced, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """`value` with `change` applied to every string in it, dictionary keys included (mixtures are keyed
    by reference)."""
    if isinstance(value, dict):
        return {change(k) if isinstance(k, str) else k: _map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, change) for v in value]
    return change(value) if isinstance(value, str) else value
