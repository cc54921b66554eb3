"""OpenLineage run events (START / COMPLETE / FAIL) per step, for Marquez, DataHub or a JSONL file.

Events go to `<root>/openlineage.jsonl` by default; `OPENLINEAGE_URL` (and optionally
`OPENLINEAGE_API_KEY`) sends them to an HTTP endpoint such as Marquez instead.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

from lmspec import __version__
from lmspec.compiler.plan import StepPlan

PRODUCER = f"https://github.com/lmspec/lmspec/tree/v{__version__}"


class OpenLineageEmitter:
    """Sends one OpenLineage event per step state change; one client per process (forked workers make their own)."""

    def __init__(self, root: str, experiment: str) -> None:
        self.root = root
        self.namespace = f"lmspec/{experiment}"
        self._client: Any = None
        self._pid = -1

    @property
    def client(self) -> Any:
        if self._client is None or self._pid != os.getpid():  # one client per forked worker
            from openlineage.client import OpenLineageClient

            url = os.environ.get("OPENLINEAGE_URL")
            if url:
                from openlineage.client.transport.http import HttpConfig, HttpTransport

                config = HttpConfig.from_dict({"url": url, **_auth()})
                self._client = OpenLineageClient(transport=HttpTransport(config))
            else:
                from openlineage.client.transport.file import FileConfig, FileTransport

                path = os.path.join(self.root, "openlineage.jsonl")
                self._client = OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=path, append=True)))
            self._pid = os.getpid()
        return self._client

    def emit(self, state: str, run_id: str, step: StepPlan, inputs: dict[str, str], error: str | None = None) -> None:
        """One event; `state` is START, COMPLETE or FAIL; `inputs` maps input step names to output paths."""
        from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
        from openlineage.client.facet_v2 import error_message_run

        facets: dict[str, Any] = {}
        if error:
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(message=error, programmingLanguage="python")
        dataset_ns = f"file://{socket.gethostname()}"
        event = RunEvent(
            eventType=getattr(RunState, state),
            eventTime=dt.datetime.now(dt.UTC).isoformat(),
            run=Run(runId=run_id, facets=facets),
            job=Job(namespace=self.namespace, name=step.name),
            producer=PRODUCER,
            inputs=[InputDataset(namespace=dataset_ns, name=path) for path in inputs.values()],
            outputs=[OutputDataset(namespace=dataset_ns, name=step.output_path)],
        )
        self.client.emit(event)


def _auth() -> dict[str, Any]:
    key = os.environ.get("OPENLINEAGE_API_KEY")
    return {"auth": {"type": "api_key", "apiKey": key}} if key else {}
