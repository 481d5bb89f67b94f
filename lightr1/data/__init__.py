"""The data stage: raw sources and benchmarks staged into the common schemas, the ledger that
accounts for every raw row, decontamination against the benchmarks, and hub downloads."""
