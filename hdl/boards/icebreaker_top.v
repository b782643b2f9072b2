// icebreaker_top: iCEBreaker (iCE40 UP5K) top of the lutcore UART bridge.
//
// Every parameter is set by the build (scripts/fpga/build.sh, yosys chparam)
// from boards/icebreaker.json and the generated manifest.json; the defaults are
// placeholders that elaborate, not board facts. Pins: the
// generated constraints (the description's `pins`). Clock: the board's
// oscillator into SB_PLL40_PAD with the description's setting for CLK_MHZ
// (USE_PLL 1), or the oscillator itself (USE_PLL 0). Below the clock,
// lutcore_fpga_bridge (shared by the board tops): reset held until the PLL
// locks, then a 16-cycle power-on count, and the UART bridge. UART: FTDI
// channel B, 8N1 at BAUD. LEDs (active low): red = run in progress, green
// = heartbeat (CLK_MHZ / 2^24 Hz).
module icebreaker_top #(
  parameter integer ACT_W        = 16,  // array beat widths (manifest.json)
  parameter integer WGT_W        = 16,
  parameter integer RES_W        = 16,
  parameter integer ACT_AW       = 1,   // log2 RAM depths in beats
  parameter integer WGT_AW       = 1,
  parameter integer RES_AW       = 1,
  parameter integer CLK_MHZ      = 1,   // clock of the bridge and the array
  parameter integer BAUD         = 1,   // UART bit rate
  parameter integer USE_PLL      = 0,   // 1: CLK_MHZ from the PLL, 0: the oscillator
  parameter integer DIVR         = 0,   // SB_PLL40_PAD setting for CLK_MHZ
  parameter integer DIVF         = 0,
  parameter integer DIVQ         = 0,
  parameter integer FILTER_RANGE = 0
) (
  input  wire CLK,      // oscillator
  input  wire RX,       // host -> FPGA
  output wire TX,       // FPGA -> host
  output wire LEDR_N,
  output wire LEDG_N
);
  wire clk;
  wire locked;
  generate
    if (USE_PLL != 0) begin : g_pll
      SB_PLL40_PAD #(
        .FEEDBACK_PATH("SIMPLE"),
        .DIVR(DIVR[3:0]),
        .DIVF(DIVF[6:0]),
        .DIVQ(DIVQ[2:0]),
        .FILTER_RANGE(FILTER_RANGE[2:0])
      ) u_pll (
        .PACKAGEPIN(CLK),
        .PLLOUTGLOBAL(clk),
        .LOCK(locked),
        .RESETB(1'b1),
        .BYPASS(1'b0)
      );
    end else begin : g_nopll
      assign clk = CLK;
      assign locked = 1'b1;
    end
  endgenerate

  wire [3:0] status;
  lutcore_fpga_bridge #(
    .ACT_W(ACT_W), .WGT_W(WGT_W), .RES_W(RES_W),
    .ACT_AW(ACT_AW), .WGT_AW(WGT_AW), .RES_AW(RES_AW),
    .CLK_MHZ(CLK_MHZ), .BAUD(BAUD)
  ) u_bridge (
    .clk_i(clk), .locked_i(locked), .uart_rx_i(RX), .uart_tx_o(TX), .status_o(status));

  assign LEDR_N = ~status[1];
  assign LEDG_N = ~status[0];
endmodule
