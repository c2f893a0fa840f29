"""Regio: a regional internet-hospital platform and a cross-jurisdiction risk platform."""

__version__ = "0.1.0"
