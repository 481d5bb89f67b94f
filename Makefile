# Two entry points: `make demo` runs the tiny world end to end, `make test` runs the tests.
# Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORES  ?= 2
# Rules call `python -m lightr1`: the venv's tools come first on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: demo test venv system-packages profile clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the tests drive for real: headless Chromium (the report) and a single-node
# SLURM with accounting (the cluster profile's test).
system-packages:
	bash scripts/system-packages.sh browser slurm

# Ends by printing the run's figures as the READMEs quote them (scripts/demo-figures.py --write
# puts them there) with this run's wall time.
demo: $(STAMP)
	@start=$$(date +%s) && $(BIN)/snakemake --cores $(CORES) && \
	  $(BIN)/python scripts/demo-figures.py --total-seconds $$(( $$(date +%s) - start ))
	@echo "Report: $(CURDIR)/results/report/index.html"

test: $(STAMP) system-packages
	$(BIN)/python -m pytest -q --durations=25

# `snakemake --profile slurm` looks for named profiles in ~/.config/snakemake/: link this
# checkout's cluster profile there (a link, so edits here take effect).
PROFILE_HOME ?= $(HOME)/.config/snakemake
profile:
	mkdir -p $(PROFILE_HOME)
	ln -sfn $(CURDIR)/profiles/slurm $(PROFILE_HOME)/slurm
	@echo "snakemake --profile slurm now uses $(CURDIR)/profiles/slurm"

clean:
	rm -rf results resources/tiny logs benchmarks work .snakemake
