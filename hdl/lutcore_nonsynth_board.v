// lutcore_nonsynth_board: co-simulation top of lutcore_board
// (lutcore_sim::board::board_design), in place of a board top.
//
// Its parameters are macros from lutcore_nonsynth_board_params.v, the file
// board_design writes just before this one: LUTCORE_BOARD_ACT_W, _WGT_W and
// _RES_W (the generated array's beat widths), _ACT_AW, _WGT_AW and _RES_AW
// (log2 RAM depths: the board description's unless the caller picks others)
// and _BAUD_DIV (clocks per UART bit). INFO reports a clock of 0 Hz.
module lutcore_nonsynth_board (
  input  wire       clk_i,
  input  wire       rst_ni,     // asynchronous, active low
  input  wire       uart_rx_i,  // UART from the host, idle high
  output wire       uart_tx_o,  // UART to the host, idle high
  output wire [3:0] status_o    // heartbeat, running, byte toggle, out of reset
);
  lutcore_board #(
    .ACT_W(`LUTCORE_BOARD_ACT_W), .WGT_W(`LUTCORE_BOARD_WGT_W), .RES_W(`LUTCORE_BOARD_RES_W),
    .ACT_AW(`LUTCORE_BOARD_ACT_AW), .WGT_AW(`LUTCORE_BOARD_WGT_AW),
    .RES_AW(`LUTCORE_BOARD_RES_AW), .BAUD_DIV(`LUTCORE_BOARD_BAUD_DIV), .CLK_HZ(0)
  ) u_board (
    .clk_i(clk_i), .rst_ni(rst_ni), .uart_rx_i(uart_rx_i), .uart_tx_o(uart_tx_o),
    .status_o(status_o));
endmodule
