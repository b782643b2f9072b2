// lutcore_skid: full-throughput valid/ready register slice (skid buffer).
// Registers data, valid and ready, so no combinational path crosses it in
// either direction; passes one beat per cycle when the sink is always ready.
module lutcore_skid #(
  parameter integer W = 8
) (
  input  wire         clk_i,
  input  wire         rst_ni,
  input  wire         in_valid_i,
  output wire         in_ready_o,
  input  wire [W-1:0] in_data_i,
  output wire         out_valid_o,
  input  wire         out_ready_i,
  output wire [W-1:0] out_data_o
);
  reg         out_valid_q;
  reg [W-1:0] out_data_q;
  reg         skid_valid_q;   // a beat accepted while the output was stalled
  reg [W-1:0] skid_data_q;

  assign in_ready_o  = ~skid_valid_q;
  assign out_valid_o = out_valid_q;
  assign out_data_o  = out_data_q;

  always @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      out_valid_q  <= 1'b0;
      skid_valid_q <= 1'b0;
    end else if (out_ready_i | ~out_valid_q) begin
      out_valid_q  <= skid_valid_q | in_valid_i;
      skid_valid_q <= 1'b0;
    end else if (in_valid_i & ~skid_valid_q) begin
      skid_valid_q <= 1'b1;
    end
  end

  always @(posedge clk_i) begin
    if (out_ready_i | ~out_valid_q) begin
      out_data_q <= skid_valid_q ? skid_data_q : in_data_i;
    end else if (in_valid_i & ~skid_valid_q) begin
      skid_data_q <= in_data_i;
    end
  end
endmodule
