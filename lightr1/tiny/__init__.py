"""The tiny synthetic world: seeded arithmetic problems in the real sources' file schemas, with
planted contamination, duplicates and malformed rows (`lightr1 tiny-world`)."""
