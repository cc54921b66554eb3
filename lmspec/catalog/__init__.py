"""The lineage catalog: every run, artifact, input edge, config and metric, in any SQLAlchemy database."""

from lmspec.catalog.records import ArtifactEnd, ArtifactStart, RunStart
from lmspec.catalog.store import SCHEMA_VERSION, Catalog, CatalogError, default_catalog_url

__all__ = [
    "SCHEMA_VERSION",
    "ArtifactEnd",
    "ArtifactStart",
    "Catalog",
    "CatalogError",
    "RunStart",
    "default_catalog_url",
]
