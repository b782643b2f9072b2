// lutcore_uart_rx: 8N1 UART receiver.
//
// DIV clock cycles per bit (DIV >= 4). The line is synchronized with two
// flip-flops; a low level while idle starts a frame, the start bit is checked
// at its middle, then each data bit (LSB first) and the stop bit are sampled
// DIV cycles apart. A frame with a low stop bit is dropped (framing error).
// `valid_o` pulses for one cycle with the byte on `data_o`.
module lutcore_uart_rx #(
  parameter integer DIV = 417
) (
  input  wire       clk_i,
  input  wire       rst_ni,
  input  wire       rx_i,     // serial line, idle high
  output reg        valid_o,  // one-cycle pulse: data_o holds a received byte
  output reg  [7:0] data_o
);
  localparam integer CW = (DIV < 2) ? 1 : $clog2(DIV + 1);

  reg [1:0]    sync_q;        // two-flop synchronizer (bit 1 is the safe copy)
  reg          busy_q;        // inside a frame
  reg [3:0]    bit_q;         // 0: start bit, 1..8: data bits, 9: stop bit
  reg [CW-1:0] cnt_q;         // cycles until the next sample
  reg [7:0]    shift_q;

  always @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      sync_q  <= 2'b11;
      busy_q  <= 1'b0;
      bit_q   <= 4'd0;
      cnt_q   <= {CW{1'b0}};
      shift_q <= 8'd0;
      valid_o <= 1'b0;
      data_o  <= 8'd0;
    end else begin
      sync_q  <= {sync_q[0], rx_i};
      valid_o <= 1'b0;
      if (!busy_q) begin
        if (!sync_q[1]) begin
          busy_q <= 1'b1;
          bit_q  <= 4'd0;
          cnt_q  <= DIV[CW-1:0] / 2 - 1'b1;   // middle of the start bit
        end
      end else if (cnt_q != {CW{1'b0}}) begin
        cnt_q <= cnt_q - 1'b1;
      end else begin
        cnt_q <= DIV[CW-1:0] - 1'b1;
        bit_q <= bit_q + 1'b1;
        if (bit_q == 4'd0) begin
          if (sync_q[1]) busy_q <= 1'b0;         // glitch, not a start bit
        end else if (bit_q == 4'd9) begin
          busy_q <= 1'b0;
          if (sync_q[1]) begin
            valid_o <= 1'b1;
            data_o  <= shift_q;
          end
        end else begin
          shift_q <= {sync_q[1], shift_q[7:1]};
        end
      end
    end
  end
endmodule
