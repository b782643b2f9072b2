// lutcore_uart_tx: 8N1 UART transmitter, DIV clock cycles per bit.
//
// A byte is taken when `valid_i & ready_o`; `ready_o` is high while idle. The
// frame is start bit (low), 8 data bits LSB first, stop bit (high).
module lutcore_uart_tx #(
  parameter integer DIV = 417
) (
  input  wire       clk_i,
  input  wire       rst_ni,
  input  wire       valid_i,
  input  wire [7:0] data_i,
  output wire       ready_o,
  output wire       tx_o      // serial line, idle high
);
  localparam integer CW = (DIV < 2) ? 1 : $clog2(DIV + 1);

  reg [9:0]    frame_q;       // bits still to send, LSB first
  reg [3:0]    left_q;        // bits left in the frame (0: idle)
  reg [CW-1:0] cnt_q;         // cycles left of the current bit

  assign ready_o = (left_q == 4'd0);
  assign tx_o    = frame_q[0];

  always @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      frame_q <= 10'h3ff;
      left_q  <= 4'd0;
      cnt_q   <= {CW{1'b0}};
    end else if (left_q == 4'd0) begin
      if (valid_i) begin
        frame_q <= {1'b1, data_i, 1'b0};
        left_q  <= 4'd10;
        cnt_q   <= DIV[CW-1:0] - 1'b1;
      end
    end else if (cnt_q != {CW{1'b0}}) begin
      cnt_q <= cnt_q - 1'b1;
    end else begin
      frame_q <= {1'b1, frame_q[9:1]};
      left_q  <= left_q - 1'b1;
      cnt_q   <= DIV[CW-1:0] - 1'b1;
    end
  end
endmodule
