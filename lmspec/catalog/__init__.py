"""The lineage catalog: every run, artifact, input edge, config and metric, in any SQLAlchemy database."""

from lmspec.catalog.database import CatalogError, CatalogLocked, CatalogReadOnly
from lmspec.catalog.records import ArtifactEnd, ArtifactStart, RunStart, StepRecord
from lmspec.catalog.store import SCHEMA_VERSION, Catalog, default_catalog_url

__all__ = [
    "SCHEMA_VERSION",
    "ArtifactEnd",
    "ArtifactStart",
    "Catalog",
    "CatalogError",
    "CatalogLocked",
    "CatalogReadOnly",
    "RunStart",
    "StepRecord",
    "default_catalog_url",
]
