"""Regio Risk spill-over models: who else a hazard reaches (overlap, river, wind plume, epidemic), and when."""
