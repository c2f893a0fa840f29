"""Regio Care clinical records (病历): notes, ICD-10 diagnoses, visit-type rules, signing and retention."""
