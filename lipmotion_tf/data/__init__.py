"""Prepared data: the record format, the manifest, preparation and input pipelines."""
