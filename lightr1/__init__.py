"""lightr1: the Light-R1 long-chain-of-thought math recipe as a Snakemake pipeline."""

__version__ = "0.1.0"
