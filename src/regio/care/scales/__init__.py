"""Regio Care scale assessments (量表测评): PHQ-9, GAD-7 and further scales as data."""
