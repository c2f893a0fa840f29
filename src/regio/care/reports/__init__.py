"""Regio Care report lookup (报告查询): lab results and imaging reports pushed by hospitals, read by patients."""
