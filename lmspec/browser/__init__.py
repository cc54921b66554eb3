"""The experiment and data browser: `lmspec browse` (a read-only web app) and `lmspec site` (the same pages
written as static files).

It reads the catalog through `lmspec.catalog` and step outputs through the typed readers of `lmspec.outputs`;
pages are server-rendered Jinja2 templates with autoescape, and the only JavaScript is vendored (uPlot) or
ours, served from `static/`, so a page works offline.
"""
