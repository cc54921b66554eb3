"""Step outputs on disk, one module per output type: its typed reader and its typed writer.

Every consumer (executors, evaluation, reports, the browser) reads an output through its class here,
so a file name inside an output is written in exactly one place. Nothing here imports an engine at
module level: the browser and `lmspec catalog` read outputs without Beam, JAX or fastText.
"""

from lmspec.outputs.base import Output

__all__ = ["Output"]
