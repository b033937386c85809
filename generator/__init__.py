"""docgen: insurance product documents from YAML content, docxtpl templates and rate tables."""

__version__ = "0.1.0"
