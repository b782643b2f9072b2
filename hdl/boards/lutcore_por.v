// lutcore_por: power-on reset of the FPGA board tops. Held low until locked_i
// (the PLL's lock, or 1 without a PLL), then for 16 more clocks; relies on the
// flip-flops' configuration value (0 on iCE40 and ECP5). lutcore_board
// synchronizes the released reset again.
module lutcore_por (
  input  wire clk_i,
  input  wire locked_i,
  output wire rst_no     // active low
);
  reg [4:0] count_q = 5'd0;
  always @(posedge clk_i) begin
    if (!locked_i)         count_q <= 5'd0;
    else if (!count_q[4])  count_q <= count_q + 5'd1;
  end
  assign rst_no = count_q[4];
endmodule
