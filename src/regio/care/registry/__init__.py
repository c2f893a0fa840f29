"""The regional registry of approved internet hospitals, departments, doctors, pharmacists."""
