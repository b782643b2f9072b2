// lutcore_reset_sync: asynchronous assertion, synchronous deassertion of an
// active-low reset (two flip-flops), so every flip-flop leaves reset on the
// same clock edge.
module lutcore_reset_sync (
  input  wire clk_i,
  input  wire rst_ni,   // asynchronous, active low
  output wire rst_no    // synchronized to clk_i, active low
);
  reg [1:0] q;
  always @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) q <= 2'b00;
    else         q <= {q[0], 1'b1};
  end
  assign rst_no = q[1];
endmodule
