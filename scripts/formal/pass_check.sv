// Formal wrapper: one GEMV pass of a generated array against a hand-written
// reference, for yosys `sat -seq N -prove-asserts -set-assumes`.
//
// Hand-written (not generated). The array under test is `DUT (one of
// lutcore_{lut,mac,addsub}_array, chosen with -DDUT=...). The problem is free:
// the solver picks every activation, every weight code of every row and the
// number of K-tiles of the pass (1..T_MAX) in the first step, while reset is
// held; the wrapper then streams the pass with the rules of docs/interface.md
// (valid high whenever a beat is left, res_ready high) and checks the result
// beat against
//
//     ref[r] = sum_{e < ntiles*K_TILE} (code[r][e] - ZP) * x[e]
//
// computed with multipliers in 64 bits: an independent description of what
// the table / bit-plane / add-sub datapath must compute. The generated RTL
// starts from arbitrary register contents (sat's free initial state); only
// the wrapper's step counter has an initial value.
//
// Parameters (set with chparam): SERIAL 1 for the bit-serial LUT array (B
// weight beats per K-tile, one bit plane each) and 0 for mac/addsub (one beat
// of whole codes); ROWS, K_TILE, B (code bits), ZP (zero point), ACT_BITS,
// T_MAX (most K-tiles of one pass), MAX_K (activations at or past MAX_K are
// assumed zero: K <= max_k with zero padding), TERNARY (code 3 excluded).
module formal_pass #(
  parameter int SERIAL = 1,
  parameter int ROWS = 1,
  parameter int K_TILE = 4,
  parameter int B = 2,
  parameter int ZP = 0,
  parameter int ACT_BITS = 8,
  parameter int T_MAX = 2,
  parameter int MAX_K = 8,
  parameter int TERNARY = 0,
  parameter int DEADLINE = 20
) (
  input logic clk,
  input logic [T_MAX*K_TILE*ACT_BITS-1:0] x_in,
  input logic [ROWS*T_MAX*K_TILE*B-1:0] code_in,
  input logic [7:0] ntiles_in
);
  localparam int NX = T_MAX * K_TILE;
  localparam int BPT = SERIAL ? B : 1;  // weight beats per K-tile
  localparam int WBEAT = SERIAL ? ROWS * K_TILE : ROWS * K_TILE * B;

  // Step counter: reset during step 1, the problem is sampled at its end.
  logic [7:0] cnt = 8'd0;
  always_ff @(posedge clk) if (cnt != 8'hff) cnt <= cnt + 8'd1;
  wire rst_n = cnt != 8'd0;

  logic [NX*ACT_BITS-1:0] xs;
  logic [ROWS*NX*B-1:0] codes;
  logic [7:0] ntiles;
  // The problem's domain by construction (no assumptions, so the check
  // also runs in engines without constraint support): 1..T_MAX K-tiles,
  // activations at or past MAX_K zero, ternary code 3 read as 2.
  logic [NX*ACT_BITS-1:0] x_dom;
  logic [ROWS*NX*B-1:0] code_dom;
  always_comb begin
    x_dom = x_in;
    for (int e = 0; e < NX; e++)
      if (e >= MAX_K) x_dom[e*ACT_BITS +: ACT_BITS] = '0;
    code_dom = code_in;
    if (TERNARY)
      for (int i = 0; i < ROWS * NX; i++)
        if (code_in[i*B +: B] == 2'd3) code_dom[i*B +: B] = 2'd2;
  end
  always_ff @(posedge clk) begin
    if (cnt == 8'd0) begin
      xs <= x_dom;
      codes <= code_dom;
      ntiles <= (ntiles_in >= 8'd1 && ntiles_in <= T_MAX) ? ntiles_in : 8'd1;
    end
  end

  // The reference: plain multiply-accumulate. Each product is exact in
  // ACT_BITS + B + 1 bits; the sum in 40 bits (the arrays' results are int32).
  localparam int PW = ACT_BITS + B + 1;
  localparam logic signed [B:0] ZPV = ZP;
  logic signed [39:0] ref_y [ROWS];
  for (genvar r = 0; r < ROWS; r++) begin : g_ref
    logic signed [39:0] part [NX+1];
    assign part[0] = 40'sd0;
    for (genvar e = 0; e < NX; e++) begin : g_e
      logic signed [B:0] v;            // the weight's value, code - zero point
      logic signed [ACT_BITS-1:0] xv;  // the activation
      logic signed [PW-1:0] prod, p;
      assign v = $signed({1'b0, codes[(r*NX + e)*B +: B]}) - ZPV;
      assign xv = xs[e*ACT_BITS +: ACT_BITS];
      assign prod = v * xv;
      // Past the pass's K-tiles: not sent, no term.
`ifdef BROKEN_REF
      // Deliberately wrong (scripts/formal.sh --broken): drops the pass's last activation.
      assign p = (e < ntiles * K_TILE - 1) ? prod : $signed({PW{1'b0}});
`else
      assign p = (e < ntiles * K_TILE) ? prod : $signed({PW{1'b0}});
`endif
      assign part[e+1] = part[e] + p;
    end
    assign ref_y[r] = part[NX];
  end

  // The stream driver.
  logic [7:0] act_i;   // activation beats taken
  logic [7:0] wtile;   // K-tile of the next weight beat
  logic [7:0] wplane;  // its bit plane (SERIAL) or 0
  logic done;          // the result beat was taken

  logic act_valid, act_ready, act_last, wgt_valid, wgt_ready, res_valid;
  logic [K_TILE*ACT_BITS-1:0] act_data;
  logic [WBEAT-1:0] wgt_data;
  logic [32*ROWS-1:0] res_data;

  assign act_valid = rst_n && act_i < ntiles;
  assign act_last = act_i == ntiles - 8'd1;
  assign act_data = xs[act_i*K_TILE*ACT_BITS +: K_TILE*ACT_BITS];
  assign wgt_valid = rst_n && wtile < ntiles;
  always_comb begin
    wgt_data = '0;
    for (int r = 0; r < ROWS; r++)
      for (int e = 0; e < K_TILE; e++)
        if (SERIAL)
          wgt_data[r*K_TILE + e] = codes[(r*NX + wtile*K_TILE + e)*B + wplane];
        else
          wgt_data[(r*K_TILE + e)*B +: B] = codes[(r*NX + wtile*K_TILE + e)*B +: B];
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      act_i <= 8'd0;
      wtile <= 8'd0;
      wplane <= 8'd0;
      done <= 1'b0;
    end else begin
      if (act_valid && act_ready) act_i <= act_i + 8'd1;
      if (wgt_valid && wgt_ready) begin
        if (wplane == BPT - 1) begin
          wplane <= 8'd0;
          wtile <= wtile + 8'd1;
        end else begin
          wplane <= wplane + 8'd1;
        end
      end
      if (res_valid) done <= 1'b1;
    end
  end

  `DUT dut (
    .clk_i(clk),
    .rst_ni(rst_n),
    .act_valid_i(act_valid),
    .act_ready_o(act_ready),
    .act_last_i(act_last),
    .act_data_i(act_data),
    .wgt_valid_i(wgt_valid),
    .wgt_ready_o(wgt_ready),
    .wgt_data_i(wgt_data),
    .res_valid_o(res_valid),
    .res_ready_i(1'b1),
    .res_data_o(res_data)
  );

  // The properties, as named wires (sat -show them in a counterexample).
  logic ok_result;    // the result beat equals the reference in every row
  logic ok_once;      // ... and comes once
  logic ok_beats;     // no activation beat is taken beyond the pass
  logic ok_deadline;  // the result came by step DEADLINE
  always_comb begin
    ok_result = 1'b1;
    for (int r = 0; r < ROWS; r++)
      if ($signed(res_data[32*r +: 32]) != ref_y[r]) ok_result = 1'b0;
    ok_result = !rst_n || !res_valid || ok_result;
  end
  assign ok_once = !rst_n || !res_valid || !done;
  assign ok_beats = !rst_n || !(act_valid && act_ready) || act_i < ntiles;
  assign ok_deadline = cnt < DEADLINE || done;
  always_comb begin
    assert (ok_result);
    assert (ok_once);
    assert (ok_beats);
    assert (ok_deadline);
  end
endmodule
