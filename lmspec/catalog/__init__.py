"""The lineage catalog: every run, artifact, input edge, config and metric, in any SQLAlchemy database."""

from lmspec.catalog.store import SCHEMA_VERSION, Catalog, CatalogError, default_catalog_url

__all__ = ["SCHEMA_VERSION", "Catalog", "CatalogError", "default_catalog_url"]
