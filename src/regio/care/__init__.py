"""Regio Care: the regional internet hospital."""
