# lutcore — the front door.
#
#   make sim     build the default array, run a 1536x1536 ternary GEMV and a
#                small BitNet-shaped model (every BitLinear matmul) through the
#                Verilated RTL, compare with the software bit for bit
#   make test    cargo tests (software, generator, RTL co-simulation) and the
#                lint/synthesis checks of every preset
#   make deps    install missing system tools (apt), pinned below
#   make bitstream BOARD=icebreaker|ulx3s   FPGA bitstream + resource/Fmax report
#   make bench   CPU LUT kernels vs the DRAM bandwidth and llama.cpp (built
#                from PyPI's llama-cpp-python source), same run
#   make dse     design-space exploration, quick sweep: LUT core vs MAC and
#                add/sub baselines on iCE40, ECP5 and an ASIC proxy (yosys)
#   make regress N=200 SEED=… JOBS=…  seeded random matmuls (configs, shapes,
#                extreme values) through the RTL and every CPU kernel vs the
#                integer reference; build/regress/{report.json,junit.xml}
#   make slurm-test  regress and dse job arrays on a throwaway local Slurm
#
# Variables: PRESET (default), CONFIG (a JSON config file, overrides PRESET),
# SHAPE (MxK, default 1536x1536), SEED, MODEL (a BitNet GGUF file; default:
# a small built-in synthetic model).

# Pinned tool versions (Debian 12 packages). A machine that already has another
# version keeps it and is told so.
VERILATOR_VERSION := 5.006-3
YOSYS_VERSION     := 0.23-6
IVERILOG_VERSION  := 11.0-1.1+b1
ZLIB_DEV_VERSION  := 1:1.2.13.dfsg-1
FONTS_DEJAVU_VERSION := 2.37-6


CARGO   ?= cargo
PRESET  ?= default
SHAPE   ?= 1536x1536
SEED    ?= 1
LUTCORE := target/release/lutcore

ifdef CONFIG
CONFIG_ARG := --config $(CONFIG)
else
CONFIG_ARG := --preset $(PRESET)
endif

.PHONY: all deps vocab build sim test lint stat-ice40 bench dse clean formal mutants coverage style

all: sim

deps:
	@scripts/deps.sh verilator=$(VERILATOR_VERSION) yosys=$(YOSYS_VERSION) iverilog=$(IVERILOG_VERSION) zlib1g-dev=$(ZLIB_DEV_VERSION) fonts-dejavu-core=$(FONTS_DEJAVU_VERSION)

# llama.cpp's vocabulary files and tokenizer test vectors (from PyPI's
# llama-cpp-python source distribution; not committed).
vocab:
	@scripts/fetch_vocab.sh build/vocab

build:
	$(CARGO) build --release --locked

ifdef MODEL
MODEL_ARG := --model $(MODEL)
endif

# The main job: generate, co-simulate a GEMV and a BitNet forward pass, compare.
sim: deps build
	$(LUTCORE) gen $(CONFIG_ARG) --out build/sim/rtl >/dev/null
	$(LUTCORE) sim $(CONFIG_ARG) --shape $(SHAPE) --seed $(SEED) --json build/sim/report.json
	$(LUTCORE) sim-model $(CONFIG_ARG) $(MODEL_ARG)

test: deps vocab build
	$(MAKE) --no-print-directory style
	$(CARGO) test --workspace --locked --release
	$(LUTCORE) regress -n 1000 --seed 60 --configs 12 --jobs 2 --json build/regress/test.json --junit build/regress/test-junit.xml
	scripts/slurm-test.sh $(LUTCORE)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory fpga-check
	$(MAKE) --no-print-directory formal

# Rust style gate: rustfmt's default style, clippy with warnings as errors.
style:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked --release -- -D warnings

# verilator --lint-only -Wall and yosys synth/check on every preset.
lint: build
	scripts/check-rtl.sh $(LUTCORE)

# yosys synth_ice40 cell counts of one preset (PRESET=...).
stat-ice40: build
	$(LUTCORE) gen $(CONFIG_ARG) --out build/$(PRESET)/rtl >/dev/null
	yosys -q -p "read_verilog -sv $$(scripts/manifest.py build/$(PRESET)/rtl files); synth_ice40 -top $$(scripts/manifest.py build/$(PRESET)/rtl top); tee -o build/$(PRESET)/ice40_stat.txt stat" >/dev/null
	@sed -n '/Number of cells/,/^$$/p' build/$(PRESET)/ice40_stat.txt

# Formal proofs with yosys sat (scripts/formal.sh): one pass of small arrays of
# every arch against a hand-written reference, lutcore_ctrl's valid/ready rules.
formal: build
	scripts/formal.sh $(LUTCORE)

# Every planted fault of sim/tests/mutation.rs; table in build/mutants/table.md.
mutants:
	$(CARGO) test --release --locked -p lutcore-sim --test mutation -- --ignored --nocapture --test-threads 1

# Verilator line/toggle coverage of the seeded random GEMVs; build/coverage/summary.md.
coverage: build
	scripts/coverage.sh

# CPU kernels beside llama.cpp. BENCH_ARGS narrows the matrix, e.g.
# BENCH_ARGS="--shape 8640x3200 --weights ternary".
BENCH_ARGS ?=
PEER_ARGS  ?= --pad-k
bench: build
	bench/peer/build.sh
	python3 bench/peer/run.py --out build/peer/peer.json $(PEER_ARGS)
	$(LUTCORE) bench gemv --peer build/peer/peer.json --json build/bench/gemv.json $(BENCH_ARGS)

# 1 vs 2 threads, alternating (10 rounds), with and without a busy loop pinned to
# one core (taskset); build/bench/threads.json. BENCH_THREADS_ARGS adds options,
# e.g. BENCH_THREADS_ARGS="--rounds 20 --batch 1".
BENCH_THREADS_ARGS ?=
.PHONY: bench-threads
bench-threads: build
	python3 scripts/bench_threads.py --out build/bench/threads.json $(BENCH_THREADS_ARGS)

# Prompt processing (64/128/512-token prompts) and decode of `lutcore run` on the
# 700M synthetic file, beside llama.cpp's when bench/parity/run.sh's venv exists,
# 10 alternating rounds, plus decode with a busy loop on core 0;
# build/bench/prompt.json. BENCH_PROMPT_ARGS adds options (--help lists them).
# PARITY_VENV: the venv with llama-cpp-python (bench/parity/run.sh's variable).
PARITY_VENV ?= build/parity-venv
PROMPT_PY := $(firstword $(wildcard $(PARITY_VENV)/bin/python) python3)
.PHONY: bench-prompt
bench-prompt: build
	@[ -s build/models/700m.gguf ] || { mkdir -p build/models && $(LUTCORE) model synth --shape 700m --out build/models/700m.gguf; }
	$(PROMPT_PY) scripts/bench_prompt.py --busy --out build/bench/prompt.json $(BENCH_PROMPT_ARGS)

# Design-space exploration (lutcore dse --quick; resumable: a rerun reuses finished
# points). DSE_ARGS adds options, e.g. DSE_ARGS="--targets ecp5 --jobs 4".
DSE_ARGS ?=
dse: deps build
	$(LUTCORE) dse --quick --out build/dse $(DSE_ARGS)

# Seeded regression (lutcore regress): N cases, SEED (default: a fresh random seed,
# printed; SEED given on the command line or in the environment fixes it), JOBS
# (default: the cores). REGRESS_ARGS adds options, e.g. REGRESS_ARGS="--configs 3".
N            ?= 200
JOBS         ?=
REGRESS_ARGS ?=
.PHONY: regress slurm-test
regress: deps build
	$(LUTCORE) regress -n $(N) $(if $(filter-out file,$(origin SEED)),--seed $(SEED)) $(if $(JOBS),--jobs $(JOBS)) --json build/regress/report.json --junit build/regress/junit.xml $(REGRESS_ARGS)

# A single-node Slurm (Debian packages, private ports and paths, stopped on exit) runs a
# 40-case regression and 5 DSE points as job arrays; the merged results must equal a local run.
slurm-test: build
	scripts/slurm-test.sh $(LUTCORE)

clean:
	rm -rf build

include fpga.mk
