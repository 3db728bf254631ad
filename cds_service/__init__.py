"""Ketamine/esketamine clinical decision support, served as CDS Hooks 2.0."""

__version__ = "0.1.0"
