// ulx3s_top: ULX3S (ECP5 LFE5U-85F) top of the lutcore UART bridge.
//
// Every parameter is set by the build (scripts/fpga/build.sh, yosys chparam)
// from boards/ulx3s.json and the generated manifest.json; the defaults are
// placeholders that elaborate, not board facts. Pins: the
// generated constraints (the description's `pins`). Clock: the board's
// oscillator into EHXPLLL with the description's setting for CLK_MHZ (USE_PLL
// 1), or the oscillator itself (USE_PLL 0). Below the clock,
// lutcore_fpga_bridge (shared by the board tops): reset held until the PLL
// locks, then a 16-cycle count, and the UART bridge. UART: the FTDI FT231X,
// ftdi_txd (host -> FPGA) and ftdi_rxd (FPGA -> host), 8N1 at BAUD. LEDs:
// led[0] heartbeat, led[1] run in progress, led[2] toggles per received byte,
// led[3] out of reset. wifi_gpio0 is held high so the ESP32 does not reset the
// FPGA.
module ulx3s_top #(
  parameter integer ACT_W        = 16,  // array beat widths (manifest.json)
  parameter integer WGT_W        = 16,
  parameter integer RES_W        = 16,
  parameter integer ACT_AW       = 1,   // log2 RAM depths in beats
  parameter integer WGT_AW       = 1,
  parameter integer RES_AW       = 1,
  parameter integer CLK_MHZ      = 1,   // clock of the bridge and the array
  parameter integer BAUD         = 1,   // UART bit rate
  parameter integer USE_PLL      = 0,   // 1: CLK_MHZ from the PLL, 0: the oscillator
  parameter integer CLKI_DIV     = 0,   // EHXPLLL setting for CLK_MHZ
  parameter integer CLKFB_DIV    = 0,
  parameter integer CLKOP_DIV    = 0,
  parameter integer CLKOP_CPHASE = 0
) (
  input  wire       clk_25mhz,
  input  wire       ftdi_txd,
  output wire       ftdi_rxd,
  output wire [7:0] led,
  output wire       wifi_gpio0
);
  wire clk;
  wire locked;
  generate
    if (USE_PLL != 0) begin : g_pll
      // FREQUENCY_PIN_CLKI: the oscillator's MHz (clock.oscillator_mhz of
      // boards/ulx3s.json), kept a string literal: nextpnr reads this attribute
      // as text, and yosys turns a parameter here into a bit string.
      (* FREQUENCY_PIN_CLKI="25" *)
      (* ICP_CURRENT="12" *) (* LPF_RESISTOR="8" *)
      (* MFG_ENABLE_FILTEROPAMP="1" *) (* MFG_GMCREF_SEL="2" *)
      EHXPLLL #(
        .PLLRST_ENA("DISABLED"),
        .INTFB_WAKE("DISABLED"),
        .STDBY_ENABLE("DISABLED"),
        .DPHASE_SOURCE("DISABLED"),
        .OUTDIVIDER_MUXA("DIVA"),
        .OUTDIVIDER_MUXB("DIVB"),
        .OUTDIVIDER_MUXC("DIVC"),
        .OUTDIVIDER_MUXD("DIVD"),
        .CLKI_DIV(CLKI_DIV),
        .CLKOP_ENABLE("ENABLED"),
        .CLKOP_DIV(CLKOP_DIV),
        .CLKOP_CPHASE(CLKOP_CPHASE),
        .CLKOP_FPHASE(0),
        .FEEDBK_PATH("CLKOP"),
        .CLKFB_DIV(CLKFB_DIV)
      ) u_pll (
        .RST(1'b0),
        .STDBY(1'b0),
        .CLKI(clk_25mhz),
        .CLKOP(clk),
        .CLKFB(clk),
        .CLKINTFB(),
        .PHASESEL0(1'b0),
        .PHASESEL1(1'b0),
        .PHASEDIR(1'b1),
        .PHASESTEP(1'b1),
        .PHASELOADREG(1'b1),
        .PLLWAKESYNC(1'b0),
        .ENCLKOP(1'b0),
        .LOCK(locked)
      );
    end else begin : g_nopll
      assign clk = clk_25mhz;
      assign locked = 1'b1;
    end
  endgenerate

  wire [3:0] status;
  lutcore_fpga_bridge #(
    .ACT_W(ACT_W), .WGT_W(WGT_W), .RES_W(RES_W),
    .ACT_AW(ACT_AW), .WGT_AW(WGT_AW), .RES_AW(RES_AW),
    .CLK_MHZ(CLK_MHZ), .BAUD(BAUD)
  ) u_bridge (
    .clk_i(clk), .locked_i(locked), .uart_rx_i(ftdi_txd), .uart_tx_o(ftdi_rxd),
    .status_o(status));

  assign led = {4'b0000, status[3], status[2], status[1], status[0]};
  assign wifi_gpio0 = 1'b1;
endmodule
