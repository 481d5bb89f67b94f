"""Curriculum data: difficulty grading from sampled pass rates, teacher-trace verification, the
SFT stage files and funnel, and the semi-on-policy DPO pairs."""
