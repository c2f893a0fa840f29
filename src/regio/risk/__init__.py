"""Regio Risk: cross-jurisdiction risk coordination, starting from China's jurisdictions."""
