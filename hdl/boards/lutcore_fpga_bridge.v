// lutcore_fpga_bridge: what every FPGA board top instantiates below its clock:
// the power-on reset (lutcore_por) and the UART bridge around the array
// (lutcore_board), with the bridge's baud divider and clock rate derived from
// CLK_MHZ and BAUD. The board top supplies the clock, the PLL's lock and the
// pins; the parameters are the board top's (scripts/fpga/board.py `params`).
module lutcore_fpga_bridge #(
  parameter integer ACT_W   = 16,  // array beat widths (manifest.json)
  parameter integer WGT_W   = 16,
  parameter integer RES_W   = 16,
  parameter integer ACT_AW  = 1,   // log2 RAM depths in beats
  parameter integer WGT_AW  = 1,
  parameter integer RES_AW  = 1,
  parameter integer CLK_MHZ = 1,   // clock of the bridge and the array
  parameter integer BAUD    = 1    // UART bit rate
) (
  input  wire       clk_i,
  input  wire       locked_i,   // the PLL's lock (1 without a PLL)
  input  wire       uart_rx_i,  // host -> FPGA
  output wire       uart_tx_o,  // FPGA -> host
  output wire [3:0] status_o    // heartbeat, running, byte toggle, out of reset
);
  localparam integer CLK_HZ = CLK_MHZ * 1000000;
  localparam integer DIV    = (CLK_HZ + BAUD / 2) / BAUD;

  wire rst_n;
  lutcore_por u_por (.clk_i(clk_i), .locked_i(locked_i), .rst_no(rst_n));

  lutcore_board #(
    .ACT_W(ACT_W), .WGT_W(WGT_W), .RES_W(RES_W),
    .ACT_AW(ACT_AW), .WGT_AW(WGT_AW), .RES_AW(RES_AW),
    .BAUD_DIV(DIV), .CLK_HZ(CLK_HZ)
  ) u_board (
    .clk_i(clk_i), .rst_ni(rst_n), .uart_rx_i(uart_rx_i), .uart_tx_o(uart_tx_o),
    .status_o(status_o));
endmodule
