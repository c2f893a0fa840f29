"""Shared core: knows neither Regio Care nor Regio Risk."""
