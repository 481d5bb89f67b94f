"""The HTML benchmark report: one self-contained page from the evaluation and data tables."""
