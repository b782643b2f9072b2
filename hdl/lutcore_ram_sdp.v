// lutcore_ram_sdp: simple dual-port RAM, one write port, one registered read
// port (read data is mem[raddr] of the previous cycle). Written so that yosys
// infers block RAM (iCE40 SB_RAM40_4K, ECP5 DP16KD). Contents are undefined
// until written.
module lutcore_ram_sdp #(
  parameter integer W  = 16,
  parameter integer AW = 8
) (
  input  wire          clk_i,
  input  wire          we_i,
  input  wire [AW-1:0] waddr_i,
  input  wire [W-1:0]  wdata_i,
  input  wire [AW-1:0] raddr_i,
  output reg  [W-1:0]  rdata_o
);
  reg [W-1:0] mem [0:(1<<AW)-1];
  always @(posedge clk_i) begin
    if (we_i) mem[waddr_i] <= wdata_i;
    rdata_o <= mem[raddr_i];
  end
endmodule
