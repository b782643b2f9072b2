// ulx3s_top: ULX3S (ECP5 LFE5U-85F, CABGA381) top of the lutcore UART bridge.
//
// Clock: the board's 25 MHz oscillator (G2), multiplied by EHXPLLL to
// CLK_MHZ = 25 * CLKFB_DIV with CLKOP_DIV = 600 / CLK_MHZ (VCO 600 MHz):
// 100 (CLKFB_DIV 4, CLKOP_DIV 6), 75 (3, 8), 50 (2, 12); CLK_MHZ = 25 uses
// the oscillator directly. The build picks the fastest the design meets. Reset: held
// until the PLL locks, then a 16-cycle count; lutcore_board synchronizes it.
// UART: the FTDI FT231X, ftdi_txd (M1, host -> FPGA) and ftdi_rxd (L4,
// FPGA -> host), 8N1 at BAUD (default 115200). LEDs: led[0] heartbeat,
// led[1] run in progress, led[2] toggles per received byte, led[3] out of
// reset. wifi_gpio0 is held high so the ESP32 does not reset the FPGA.
module ulx3s_top #(
  parameter integer ACT_W   = 64,
  parameter integer WGT_W   = 128,
  parameter integer RES_W   = 512,
  parameter integer ACT_AW  = 11,
  parameter integer WGT_AW  = 12,
  parameter integer RES_AW  = 9,
  parameter integer CLK_MHZ = 50,
  parameter integer BAUD    = 115200
) (
  input  wire       clk_25mhz,
  input  wire       ftdi_txd,
  output wire       ftdi_rxd,
  output wire [7:0] led,
  output wire       wifi_gpio0
);
  localparam integer CLK_HZ = CLK_MHZ * 1000000;
  localparam integer FB_DIV = CLK_MHZ / 25;
  localparam integer OP_DIV = 600 / CLK_MHZ;
  localparam integer DIV    = (CLK_HZ + BAUD / 2) / BAUD;

  wire clk;
  wire locked;
  generate
    if (CLK_MHZ != 25) begin : g_pll
      (* FREQUENCY_PIN_CLKI="25" *)
      (* ICP_CURRENT="12" *) (* LPF_RESISTOR="8" *) (* MFG_ENABLE_FILTEROPAMP="1" *) (* MFG_GMCREF_SEL="2" *)
      EHXPLLL #(
        .PLLRST_ENA("DISABLED"),
        .INTFB_WAKE("DISABLED"),
        .STDBY_ENABLE("DISABLED"),
        .DPHASE_SOURCE("DISABLED"),
        .OUTDIVIDER_MUXA("DIVA"),
        .OUTDIVIDER_MUXB("DIVB"),
        .OUTDIVIDER_MUXC("DIVC"),
        .OUTDIVIDER_MUXD("DIVD"),
        .CLKI_DIV(1),
        .CLKOP_ENABLE("ENABLED"),
        .CLKOP_DIV(OP_DIV),
        .CLKOP_CPHASE(OP_DIV / 2 - 1),
        .CLKOP_FPHASE(0),
        .FEEDBK_PATH("CLKOP"),
        .CLKFB_DIV(FB_DIV)
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

  wire rst_n;
  lutcore_por u_por (.clk_i(clk), .locked_i(locked), .rst_no(rst_n));

  wire [3:0] status;
  lutcore_board #(
    .ACT_W(ACT_W), .WGT_W(WGT_W), .RES_W(RES_W),
    .ACT_AW(ACT_AW), .WGT_AW(WGT_AW), .RES_AW(RES_AW),
    .BAUD_DIV(DIV), .CLK_HZ(CLK_HZ)
  ) u_board (
    .clk_i(clk), .rst_ni(rst_n), .uart_rx_i(ftdi_txd), .uart_tx_o(ftdi_rxd), .status_o(status));

  assign led = {4'b0000, status[3], status[2], status[1], status[0]};
  assign wifi_gpio0 = 1'b1;
endmodule
