// icebreaker_top: iCEBreaker (iCE40 UP5K, SG48) top of the lutcore UART bridge.
//
// Clock: the board's 12 MHz oscillator (pin 35), multiplied by SB_PLL40_PAD
// to CLK_MHZ: 48 (DIVF 63, DIVQ 4: VCO 768 MHz / 16), 36 (47, 4: 576 / 16),
// 30 (79, 5: 960 / 32) or 24 (63, 5: 768 / 32), DIVR 0, FILTER_RANGE 1 (as
// `icepll -i 12 -o F` gives); CLK_MHZ = 12 uses the oscillator directly.
// The build picks the fastest of these that the placed design meets
// (scripts/fpga/build.sh). Reset: held until the PLL locks, then a
// 16-cycle power-on count; lutcore_board synchronizes it.
// UART: FTDI channel B, RX pin 6 (host -> FPGA), TX pin 9 (FPGA -> host),
// 8N1 at BAUD (default 115200). LEDs (active low): red = run in progress,
// green = heartbeat (CLK_MHZ / 2^24 Hz).
// The array's widths and the RAM depths are parameters, set by the build
// (scripts/fpga/build.sh, yosys chparam) from the generated manifest.json.
module icebreaker_top #(
  parameter integer ACT_W   = 32,
  parameter integer WGT_W   = 16,
  parameter integer RES_W   = 128,
  parameter integer ACT_AW  = 10,
  parameter integer WGT_AW  = 11,
  parameter integer RES_AW  = 8,
  parameter integer CLK_MHZ = 24,
  parameter integer BAUD    = 115200
) (
  input  wire CLK,      // 12 MHz, pin 35
  input  wire RX,       // pin 6
  output wire TX,       // pin 9
  output wire LEDR_N,   // pin 11
  output wire LEDG_N    // pin 37
);
  localparam integer CLK_HZ = CLK_MHZ * 1000000;
  localparam [6:0]   DIVF   = (CLK_MHZ == 48) ? 7'd63 : (CLK_MHZ == 36) ? 7'd47 : (CLK_MHZ == 30) ? 7'd79 : 7'd63;
  localparam [2:0]   DIVQ   = (CLK_MHZ == 48) ? 3'd4 : (CLK_MHZ == 36) ? 3'd4 : 3'd5;
  localparam integer DIV    = (CLK_HZ + BAUD / 2) / BAUD;

  wire clk;
  wire locked;
  generate
    if (CLK_MHZ != 12) begin : g_pll
      SB_PLL40_PAD #(
        .FEEDBACK_PATH("SIMPLE"),
        .DIVR(4'b0000),
        .DIVF(DIVF),
        .DIVQ(DIVQ),
        .FILTER_RANGE(3'b001)
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

  wire rst_n;
  lutcore_por u_por (.clk_i(clk), .locked_i(locked), .rst_no(rst_n));

  wire [3:0] status;
  lutcore_board #(
    .ACT_W(ACT_W), .WGT_W(WGT_W), .RES_W(RES_W),
    .ACT_AW(ACT_AW), .WGT_AW(WGT_AW), .RES_AW(RES_AW),
    .BAUD_DIV(DIV), .CLK_HZ(CLK_HZ)
  ) u_board (
    .clk_i(clk), .rst_ni(rst_n), .uart_rx_i(RX), .uart_tx_o(TX), .status_o(status));

  assign LEDR_N = ~status[1];
  assign LEDG_N = ~status[0];
endmodule
