// lutcore_board: UART bridge around one generated lutcore array.
//
// Board independent: clock, reset and pins are the board top's business
// (hdl/boards/*). The host loads activation beats and weight beats into
// on-chip RAM over the UART, starts a run, which streams both RAMs through
// the array at one beat per clock (as fast as the array takes them) and
// stores its result beats in a third RAM, then reads the results and the
// run's cycle count back. The protocol is described in hdl/README.md; the
// host side is lutcore_sim::board (Rust).
//
// Every parameter is set by the instance (the board tops, from the board
// description boards/*.json, or lutcore_nonsynth_board in co-simulation); the
// defaults are placeholders that elaborate, not board facts.
// ACT_W/WGT_W/RES_W are the manifest's act_beat/weight_beat/result_beat widths
// (multiples of 8). The array module is `lutcore_lut_array` (any LUT config;
// the generator's top for arch=lut).
//
// One always block per job: the command parser (opcode, argument bytes), the
// beat transfer (byte and beat counters, RAM address, the beat being loaded),
// the run setup, the activation stream, the weight stream, result capture
// (with the cycle counter), the result read-out, the response, the status
// LEDs; the state register takes state_d from one combinational block.
module lutcore_board #(
  parameter integer ACT_W    = 16,  // activation beat bits
  parameter integer WGT_W    = 16,  // weight beat bits
  parameter integer RES_W    = 16,  // result beat bits
  parameter integer ACT_AW   = 1,   // log2 activation RAM depth (beats)
  parameter integer WGT_AW   = 1,   // log2 weight RAM depth (beats)
  parameter integer RES_AW   = 1,   // log2 result RAM depth (beats)
  parameter integer BAUD_DIV = 4,   // clock cycles per UART bit
  parameter integer CLK_HZ   = 0    // reported by INFO only (0: unknown, co-simulation)
) (
  input  wire       clk_i,
  input  wire       rst_ni,     // asynchronous, active low; synchronized here
  input  wire       uart_rx_i,  // from the host
  output wire       uart_tx_o,  // to the host
  output wire [3:0] status_o    // 0 heartbeat, 1 running, 2 toggles per received byte,
                                // 3 out of reset
);
  localparam integer AB   = ACT_W / 8;   // bytes per activation beat
  localparam integer WB   = WGT_W / 8;   // bytes per weight beat
  localparam integer RB   = RES_W / 8;   // bytes per result beat
  localparam integer LD_W = (ACT_W > WGT_W) ? ACT_W : WGT_W;


  // Protocol constants (hdl/README.md).
  localparam [7:0] OP_INFO = 8'h49;   // 'I'
  localparam [7:0] OP_ACT  = 8'h41;   // 'A' addr:u16 count:u16, count*AB bytes
  localparam [7:0] OP_WGT  = 8'h57;   // 'W' addr:u16 count:u16, count*WB bytes
  localparam [7:0] OP_RUN  = 8'h52;   // 'R' kt:u16 tiles:u16 wgt_beats:u32
  localparam [7:0] OP_RES  = 8'h44;   // 'D' addr:u16 count:u16 -> count*RB bytes
  localparam [7:0] OP_CYC  = 8'h43;   // 'C' -> cycles:u32
  localparam [7:0] ACK     = 8'h06;
  localparam [7:0] NAK     = 8'h15;
  localparam [7:0] VERSION = 8'd1;

  /* verilator lint_off WIDTH */
  /* verilator lint_off WIDTHCONCAT */
  localparam [31:0] CLK32  = CLK_HZ;
  localparam [31:0] DIV32  = BAUD_DIV;
  localparam [15:0] AB16   = AB;
  localparam [15:0] WB16   = WB;
  localparam [15:0] RB16   = RB;
  localparam [7:0]  AAW8   = ACT_AW;
  localparam [7:0]  WAW8   = WGT_AW;
  localparam [7:0]  RAW8   = RES_AW;
  localparam [175:0] INFO  = {CLK32, DIV32, RB16, WB16, AB16, RAW8, WAW8, AAW8, VERSION,
                              32'h4354554c};
  localparam integer RBI   = (RB < 2) ? 1 : $clog2(RB);   // bits of a byte index into a result beat
  /* verilator lint_on WIDTHCONCAT */
  /* verilator lint_on WIDTH */

  localparam [3:0] S_OP = 4'd0, S_ARG = 4'd1, S_EXEC = 4'd2, S_LOAD = 4'd3, S_PRIME = 4'd4,
                   S_RUN = 4'd5, S_SEND = 4'd6, S_RDREQ = 4'd7, S_RDSEND = 4'd8, S_RDREG = 4'd9,
                   S_RDLAT = 4'd10;
  localparam [2:0] R_ACK = 3'd0, R_NAK = 3'd1, R_INFO = 3'd2, R_RUN = 3'd3, R_CYC = 3'd4;

  // ---------------------------------------------------------------- reset, UART
  wire rst_n;
  lutcore_reset_sync u_rst (.clk_i(clk_i), .rst_ni(rst_ni), .rst_no(rst_n));

  wire       rx_valid;
  wire [7:0] rx_data;
  wire       tx_valid;
  wire [7:0] tx_data;
  wire       tx_ready;
  lutcore_uart_rx #(.DIV(BAUD_DIV)) u_rx (
    .clk_i(clk_i), .rst_ni(rst_n), .rx_i(uart_rx_i), .valid_o(rx_valid), .data_o(rx_data));
  lutcore_uart_tx #(.DIV(BAUD_DIV)) u_tx (
    .clk_i(clk_i), .rst_ni(rst_n), .valid_i(tx_valid), .data_i(tx_data), .ready_o(tx_ready),
    .tx_o(uart_tx_o));

  // ---------------------------------------------------------------- state
  // Timing: every end-of-count condition is a registered flag (*_last_q,
  // *_valid_q) computed one cycle ahead, so no wide comparator sits between
  // the UART, the array's handshakes and the state register.
  reg [3:0]      state_q;
  reg [3:0]      state_d;
  reg            is_act_q;     // the command is LOAD_ACT (decoded in S_OP)
  reg            is_wgt_q;     // LOAD_WGT
  reg            is_run_q;     // RUN
  reg            is_res_q;     // READ_RES
  reg [63:0]     arg_q;        // argument bytes, little endian
  reg [3:0]      arg_idx_q;    // next argument byte
  reg [3:0]      arg_last_q;   // index of the last argument byte
  reg [15:0]     ptr_q;        // RAM address of the beat being loaded / read
  reg [15:0]     left_q;       // beats left to load / read
  reg            left_last_q;  // left_q == 1
  reg [15:0]     byte_q;       // byte within the current beat
  reg [15:0]     nbm1_q;       // bytes per beat - 1 of the command
  reg [15:0]     nbm2_q;       // bytes per beat - 2
  reg            byte_last_q;  // byte_q == nbm1_q
  /* verilator lint_off UNUSEDSIGNAL */
  reg [LD_W-1:0] ld_q;         // beat being assembled, bytes enter at the top (7:0 drop out)
  /* verilator lint_on UNUSEDSIGNAL */
  reg [2:0]      resp_q;       // response kind (R_*)
  reg [4:0]      resp_idx_q;   // next response byte
  reg [4:0]      resp_last_q;  // index of the last response byte
  reg [15:0]     kt_m1_q;      // activation beats per pass - 1
  reg [15:0]     kt_m2_q;      // activation beats per pass - 2
  reg [15:0]     tiles_m1_q;   // passes (row tiles) - 1
  reg [15:0]     tiles_m2_q;   // passes (row tiles) - 2
  reg [31:0]     nwgt_q;       // weight beats of the run
  reg [31:0]     nwgt_m1_q;    // weight beats of the run - 1
  reg [15:0]     act_idx_q;    // activation beat on the RAM output
  reg            act_last_q;   // act_idx_q == kt_m1_q
  reg [15:0]     act_pass_q;   // passes whose activation beats are all sent
  reg            act_valid_q;  // activation beats left to send
  reg [31:0]     wgt_idx_q;    // weight beat on the RAM output
  reg            wgt_valid_q;  // weight beats left to send
  reg [15:0]     res_idx_q;    // result beats stored
  reg            res_last_q;   // res_idx_q == tiles_m1_q
  reg [31:0]     cyc_q;        // clock cycles of the last run
  reg [RES_W-1:0] res_rdata_q; // result beat being sent (a register after the RAM)
  reg [7:0]      res_byte_q;   // result byte being sent
  reg [23:0]     beat_q;       // heartbeat counter
  reg            rx_seen_q;    // toggles per received byte

  wire [15:0] arg_addr  = arg_q[15:0];    // LOAD_ACT, LOAD_WGT, READ_RES: first RAM address
  wire [15:0] arg_count = arg_q[31:16];   // beats
  wire [15:0] arg_kt    = arg_q[15:0];    // RUN: activation beats per pass
  wire [15:0] arg_tiles = arg_q[31:16];   // RUN: passes
  wire [31:0] arg_nwgt  = arg_q[63:32];   // RUN: weight beats
  wire [15:0] rx_nbm1   = (rx_data == OP_ACT) ? AB16 - 16'd1
                        : (rx_data == OP_WGT) ? WB16 - 16'd1
                        :                       RB16 - 16'd1;

  // One-cycle events the blocks below act on.
  wire op_byte   = (state_q == S_OP) & rx_valid;      // an opcode arrives
  wire arg_byte  = (state_q == S_ARG) & rx_valid;     // an argument byte arrives
  wire exec      = (state_q == S_EXEC);               // the arguments are complete
  wire run_start = exec & is_run_q;                   // RUN: reset the run's counters
  wire prime     = (state_q == S_PRIME);              // RUN: the RAMs read beat 0
  wire load_byte = (state_q == S_LOAD) & rx_valid;    // a byte of a beat to load arrives

  // ---------------------------------------------------------------- loading
  /* verilator lint_off UNUSEDSIGNAL */
  wire [LD_W-1:0] ld_d = {rx_data, ld_q[LD_W-1:8]};   // bits 7:0 drop out
  /* verilator lint_on UNUSEDSIGNAL */
  wire load_beat = load_byte & byte_last_q;
  wire act_we = load_beat & is_act_q;
  wire wgt_we = load_beat & is_wgt_q;

  // ---------------------------------------------------------------- the array
  wire               running = (state_q == S_RUN);
  wire               act_ready;
  wire               act_fire = act_valid_q & act_ready;
  wire               wgt_ready;
  wire               wgt_fire = wgt_valid_q & wgt_ready;
  wire               res_valid;
  wire               res_fire = res_valid & running;
  wire               run_done = res_fire & res_last_q;   // the run's last result is stored
  wire [ACT_W-1:0]   act_rdata;
  wire [WGT_W-1:0]   wgt_rdata;
  wire [RES_W-1:0]   res_data;
  wire [RES_W-1:0]   res_rdata;

  // Read addresses run one beat ahead on a transfer, so each RAM's registered
  // output always holds the beat at act_idx_q / wgt_idx_q.
  wire [ACT_AW-1:0] act_idx_inc = act_last_q ? {ACT_AW{1'b0}} : act_idx_q[ACT_AW-1:0] + 1'b1;
  wire [ACT_AW-1:0] act_raddr   = act_fire ? act_idx_inc : act_idx_q[ACT_AW-1:0];
  wire [WGT_AW-1:0] wgt_idx_inc = wgt_idx_q[WGT_AW-1:0] + 1'b1;
  wire [WGT_AW-1:0] wgt_raddr   = wgt_fire ? wgt_idx_inc : wgt_idx_q[WGT_AW-1:0];

  lutcore_ram_sdp #(.W(ACT_W), .AW(ACT_AW)) u_act_ram (
    .clk_i(clk_i), .we_i(act_we), .waddr_i(ptr_q[ACT_AW-1:0]),
    .wdata_i(ld_d[LD_W-1 -: ACT_W]), .raddr_i(act_raddr), .rdata_o(act_rdata));
  lutcore_ram_sdp #(.W(WGT_W), .AW(WGT_AW)) u_wgt_ram (
    .clk_i(clk_i), .we_i(wgt_we), .waddr_i(ptr_q[WGT_AW-1:0]),
    .wdata_i(ld_d[LD_W-1 -: WGT_W]), .raddr_i(wgt_raddr), .rdata_o(wgt_rdata));
  lutcore_ram_sdp #(.W(RES_W), .AW(RES_AW)) u_res_ram (
    .clk_i(clk_i), .we_i(res_fire), .waddr_i(res_idx_q[RES_AW-1:0]), .wdata_i(res_data),
    .raddr_i(ptr_q[RES_AW-1:0]), .rdata_o(res_rdata));

  // Register slices between the RAMs and the array: no combinational path
  // runs from the array's ready outputs to the RAM addresses, or from the
  // RAM outputs into the array.
  wire               a_valid, a_ready, a_last;
  wire [ACT_W-1:0]   a_data;
  wire               w_valid, w_ready;
  wire [WGT_W-1:0]   w_data;
  lutcore_skid #(.W(ACT_W + 1)) u_act_skid (
    .clk_i(clk_i), .rst_ni(rst_n),
    .in_valid_i(act_valid_q), .in_ready_o(act_ready), .in_data_i({act_last_q, act_rdata}),
    .out_valid_o(a_valid), .out_ready_i(a_ready), .out_data_o({a_last, a_data}));
  lutcore_skid #(.W(WGT_W)) u_wgt_skid (
    .clk_i(clk_i), .rst_ni(rst_n),
    .in_valid_i(wgt_valid_q), .in_ready_o(wgt_ready), .in_data_i(wgt_rdata),
    .out_valid_o(w_valid), .out_ready_i(w_ready), .out_data_o(w_data));

  // Ports: the stream interface (lutcore_contract::interface), checked by
  // lutcore_sim::board::board_design when the board design is built.
  lutcore_lut_array u_array (
    .clk_i(clk_i), .rst_ni(rst_n),
    .act_valid_i(a_valid), .act_ready_o(a_ready), .act_last_i(a_last), .act_data_i(a_data),
    .wgt_valid_i(w_valid), .wgt_ready_o(w_ready), .wgt_data_i(w_data),
    .res_valid_o(res_valid), .res_ready_i(running), .res_data_o(res_data));

  // ---------------------------------------------------------------- responses
  wire [175:0] resp_vec = (resp_q == R_INFO) ? INFO
                        : (resp_q == R_RUN)  ? {136'd0, cyc_q, ACK}
                        : (resp_q == R_CYC)  ? {144'd0, cyc_q}
                        : (resp_q == R_NAK)  ? {168'd0, NAK}
                        :                      {168'd0, ACK};
  wire [7:0] resp_byte = resp_vec[{resp_idx_q, 3'b000} +: 8];
  // Result bytes: RAM -> res_rdata_q -> byte select -> res_byte_q -> UART, a
  // register at each step (the byte select is wide: RES_W / 8 inputs).
  wire [7:0] res_byte  = res_rdata_q[{byte_q[RBI-1:0], 3'b000} +: 8];
  assign tx_valid = (state_q == S_SEND) | (state_q == S_RDSEND);
  assign tx_data  = (state_q == S_SEND) ? resp_byte : res_byte_q;
  wire tx_fire = tx_valid & tx_ready;
  wire resp_sent = (state_q == S_SEND) & tx_fire;     // a response byte leaves
  wire res_sent  = (state_q == S_RDSEND) & tx_fire;   // a result byte leaves

  assign status_o = {rst_n, rx_seen_q, running, beat_q[23]};

  // ---------------------------------------------------------------- control
  // Next state. S_OP -> S_ARG -> S_EXEC, then by command: LOAD_* S_LOAD ->
  // S_SEND (ACK); RUN S_PRIME -> S_RUN -> S_SEND (ACK, cycles); READ_RES per
  // beat S_RDREQ -> S_RDREG, per byte S_RDLAT -> S_RDSEND. INFO, CYCLES and
  // unknown opcodes go to S_SEND at once.
  always @* begin
    state_d = state_q;
    case (state_q)
      S_OP: if (rx_valid) begin
        case (rx_data)
          OP_ACT, OP_WGT, OP_RUN, OP_RES: state_d = S_ARG;
          default:                        state_d = S_SEND;
        endcase
      end
      S_ARG:    if (rx_valid && arg_idx_q == arg_last_q) state_d = S_EXEC;
      S_EXEC: begin
        if (is_run_q)      state_d = (arg_kt == 16'd0 || arg_tiles == 16'd0) ? S_SEND : S_PRIME;
        else if (is_res_q) state_d = (arg_count == 16'd0) ? S_OP : S_RDREQ;
        else               state_d = (arg_count == 16'd0) ? S_SEND : S_LOAD;
      end
      S_LOAD:   if (rx_valid && byte_last_q && left_last_q) state_d = S_SEND;
      S_PRIME:  state_d = S_RUN;
      S_RUN:    if (run_done) state_d = S_SEND;
      S_SEND:   if (tx_fire && resp_idx_q == resp_last_q) state_d = S_OP;
      S_RDREQ:  state_d = S_RDREG;   // res_rdata <= mem[ptr_q]
      S_RDREG:  state_d = S_RDLAT;
      S_RDLAT:  state_d = S_RDSEND;
      S_RDSEND: if (tx_fire) state_d = !byte_last_q ? S_RDLAT : left_last_q ? S_OP : S_RDREQ;
      default:  state_d = S_OP;
    endcase
  end

  always @(posedge clk_i or negedge rst_n) begin
    if (!rst_n) state_q <= S_OP;
    else        state_q <= state_d;
  end

  // Command parser: the opcode (which command, its beat size, its argument
  // count), then the argument bytes.
  always @(posedge clk_i or negedge rst_n) begin
    if (!rst_n) begin
      is_act_q   <= 1'b0;
      is_wgt_q   <= 1'b0;
      is_run_q   <= 1'b0;
      is_res_q   <= 1'b0;
      nbm1_q     <= 16'd0;
      nbm2_q     <= 16'd0;
      arg_q      <= 64'd0;
      arg_idx_q  <= 4'd0;
      arg_last_q <= 4'd0;
    end else if (op_byte) begin
      is_act_q   <= (rx_data == OP_ACT);
      is_wgt_q   <= (rx_data == OP_WGT);
      is_run_q   <= (rx_data == OP_RUN);
      is_res_q   <= (rx_data == OP_RES);
      nbm1_q     <= rx_nbm1;
      nbm2_q     <= rx_nbm1 - 16'd1;
      arg_idx_q  <= 4'd0;
      arg_last_q <= (rx_data == OP_RUN) ? 4'd7 : 4'd3;
    end else if (arg_byte) begin
      arg_q[{arg_idx_q[2:0], 3'b000} +: 8] <= rx_data;
      arg_idx_q <= arg_idx_q + 4'd1;
    end
  end

  // Beat transfer: a load (a byte received in S_LOAD) and a result read (a
  // byte sent in S_RDSEND) move one byte of a beat. Count the beat's bytes,
  // and after its last byte the beats (RAM address, beats left). S_EXEC
  // starts at the command's address and count.
  always @(posedge clk_i or negedge rst_n) begin
    if (!rst_n) begin
      ptr_q       <= 16'd0;
      left_q      <= 16'd0;
      left_last_q <= 1'b0;
      byte_q      <= 16'd0;
      byte_last_q <= 1'b0;
    end else if (op_byte) begin
      byte_last_q <= (rx_nbm1 == 16'd0);
    end else if (exec) begin
      ptr_q       <= arg_addr;
      left_q      <= arg_count;
      left_last_q <= (arg_count == 16'd1);
      byte_q      <= 16'd0;
    end else if (load_byte || res_sent) begin
      if (byte_last_q) begin
        byte_q      <= 16'd0;
        byte_last_q <= (nbm1_q == 16'd0);
        ptr_q       <= ptr_q + 16'd1;
        left_q      <= left_q - 16'd1;
        left_last_q <= (left_q == 16'd2);
      end else begin
        byte_q      <= byte_q + 16'd1;
        byte_last_q <= (byte_q == nbm2_q);
      end
    end
  end

  // The beat being loaded: received bytes shift in from the top.
  always @(posedge clk_i or negedge rst_n) begin
    if (!rst_n)         ld_q <= {LD_W{1'b0}};
    else if (load_byte) ld_q <= ld_d;
  end

  // Run setup: the RUN arguments as the end-of-count values the streams compare with.
  always @(posedge clk_i or negedge rst_n) begin
    if (!rst_n) begin
      kt_m1_q    <= 16'd0;
      kt_m2_q    <= 16'd0;
      tiles_m1_q <= 16'd0;
      tiles_m2_q <= 16'd0;
      nwgt_q     <= 32'd0;
      nwgt_m1_q  <= 32'd0;
    end else if (run_start) begin
      kt_m1_q    <= arg_kt - 16'd1;
      kt_m2_q    <= arg_kt - 16'd2;
      tiles_m1_q <= arg_tiles - 16'd1;
      tiles_m2_q <= arg_tiles - 16'd2;
      nwgt_q     <= arg_nwgt;
      nwgt_m1_q  <= arg_nwgt - 32'd1;
    end
  end

  // Activation stream: beats 0..kt-1 once per pass (act_last on beat kt-1),
  // for every pass, stopped early when the run's last result is stored.
  always @(posedge clk_i or negedge rst_n) begin
    if (!rst_n) begin
      act_idx_q   <= 16'd0;
      act_last_q  <= 1'b0;
      act_pass_q  <= 16'd0;
      act_valid_q <= 1'b0;
    end else if (run_start) begin
      act_idx_q   <= 16'd0;
      act_pass_q  <= 16'd0;
    end else if (prime) begin
      act_last_q  <= (kt_m1_q == 16'd0);
      act_valid_q <= 1'b1;
    end else if (running) begin
      if (act_fire) begin
        if (act_last_q) begin
          act_idx_q  <= 16'd0;
          act_last_q <= (kt_m1_q == 16'd0);
          act_pass_q <= act_pass_q + 16'd1;
          if (act_pass_q == tiles_m1_q) act_valid_q <= 1'b0;
        end else begin
          act_idx_q  <= act_idx_q + 16'd1;
          act_last_q <= (act_idx_q == kt_m2_q);
        end
      end
      if (run_done) act_valid_q <= 1'b0;
    end
  end

  // Weight stream: beats 0..wgt_beats-1 once.
  always @(posedge clk_i or negedge rst_n) begin
    if (!rst_n) begin
      wgt_idx_q   <= 32'd0;
      wgt_valid_q <= 1'b0;
    end else if (run_start) begin
      wgt_idx_q   <= 32'd0;
    end else if (prime) begin
      wgt_valid_q <= (nwgt_q != 32'd0);
    end else if (running) begin
      if (wgt_fire) begin
        wgt_idx_q   <= wgt_idx_q + 32'd1;
        wgt_valid_q <= (wgt_idx_q != nwgt_m1_q);
      end
      if (run_done) wgt_valid_q <= 1'b0;
    end
  end

  // Result capture: result beat t of the run goes to result address t; the
  // cycle counter runs from the first beat offered to the last result stored.
  always @(posedge clk_i or negedge rst_n) begin
    if (!rst_n) begin
      res_idx_q  <= 16'd0;
      res_last_q <= 1'b0;
      cyc_q      <= 32'd0;
    end else if (run_start) begin
      res_idx_q  <= 16'd0;
      cyc_q      <= 32'd0;
    end else if (prime) begin
      res_last_q <= (tiles_m1_q == 16'd0);
    end else if (running) begin
      cyc_q <= cyc_q + 32'd1;
      if (res_fire) begin
        res_idx_q  <= res_idx_q + 16'd1;
        res_last_q <= (res_idx_q == tiles_m2_q);
      end
    end
  end

  // Result read-out: the RAM's beat into res_rdata_q (S_RDREG), the selected
  // byte into res_byte_q (S_RDLAT).
  always @(posedge clk_i or negedge rst_n) begin
    if (!rst_n) begin
      res_rdata_q <= {RES_W{1'b0}};
      res_byte_q  <= 8'd0;
    end else begin
      if (state_q == S_RDREG) res_rdata_q <= res_rdata;
      if (state_q == S_RDLAT) res_byte_q  <= res_byte;
    end
  end

  // Response: which answer (S_OP for INFO, CYCLES and unknown opcodes,
  // S_EXEC for the others) and the byte being sent.
  always @(posedge clk_i or negedge rst_n) begin
    if (!rst_n) begin
      resp_q      <= R_ACK;
      resp_idx_q  <= 5'd0;
      resp_last_q <= 5'd0;
    end else if (op_byte) begin
      resp_idx_q <= 5'd0;
      case (rx_data)
        OP_INFO: begin resp_q <= R_INFO; resp_last_q <= 5'd21; end
        OP_CYC:  begin resp_q <= R_CYC;  resp_last_q <= 5'd3;  end
        OP_ACT, OP_WGT, OP_RUN, OP_RES: ;
        default: begin resp_q <= R_NAK;  resp_last_q <= 5'd0;  end
      endcase
    end else if (exec) begin
      if (is_run_q) begin
        resp_q      <= R_RUN;
        resp_last_q <= 5'd4;
      end else if (!is_res_q) begin
        resp_q      <= R_ACK;
        resp_last_q <= 5'd0;
      end
    end else if (resp_sent) begin
      resp_idx_q <= resp_idx_q + 5'd1;
    end
  end

  // Status LEDs: heartbeat, and a toggle per received byte.
  always @(posedge clk_i or negedge rst_n) begin
    if (!rst_n) begin
      beat_q    <= 24'd0;
      rx_seen_q <= 1'b0;
    end else begin
      beat_q <= beat_q + 24'd1;
      if (rx_valid) rx_seen_q <= ~rx_seen_q;
    end
  end
endmodule
