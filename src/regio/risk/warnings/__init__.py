"""Regio Risk warnings: who is warned, acknowledgements, escalation and responsibility lists."""
