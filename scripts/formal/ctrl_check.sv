// Formal wrapper: the stream rules of `lutcore_ctrl`, with free valid/ready.
//
// Hand-written (not generated); tests/interface_instances.rs holds the `dut`
// instance to the generated controller's ports. The environment drives act_valid_i,
// act_last_i, wgt_valid_i and res_ready_i freely in every step (no
// assumption at all, not even that valid stays up), reset is held in step 1
// only. The wrapper counts the beats of the current pass and checks, in
// every step (yosys `sat -seq N -prove-asserts`: bounded model check over
// several passes), plus a reachability check that two passes fit the bound:
//
//   P1 act_fire_o / wgt_fire_o (the strobes that latch a beat) are exactly
//      valid & ready: a beat is taken only on a handshake, and every
//      handshake is latched;
//   P2 res_valid_o stays high until res_ready_i (no result dropped), and no
//      ready/valid is raised outside the run phase;
//   P3 per pass: a weight beat only while a K-tile is loaded, at most B per
//      activation beat, no activation beat before the loaded tile's B
//      weight beats are in, none after act_last until the result beat; the
//      result beat comes only after exactly T*B weight beats for T
//      activation beats;
//   P4 the datapath sees each beat once: acc_en_o pulses exactly once per
//      weight beat (LAT cycles later; LUT: plus one finalize per pass),
//      acc_clear_o with the pass's first weight beat only, plane_o counts
//      0..B-1 (LUT), load_o once per activation beat, sum_clear_o with the
//      pass's first one; all of it is drained before res_valid_o.
//
// Parameters: B weight beats per K-tile (the LUT's bits, 1 for mac/addsub),
// LUT 1 for the LUT controller (two-stage accumulator controls, finalize).
module formal_ctrl #(
  parameter int B = 2,
  parameter int LUT = 1
) (
  input logic clk,
  input logic act_valid,
  input logic act_last,
  input logic wgt_valid,
  input logic res_ready
);
  localparam int LAT = LUT ? 2 : 1;  // handshake -> accumulator controls
  localparam int PB = B <= 1 ? 1 : $clog2(B);

  logic [7:0] cnt = 8'd0;
  always_ff @(posedge clk) if (cnt != 8'hff) cnt <= cnt + 8'd1;
  wire rst_n = cnt != 8'd0;

  logic act_ready, wgt_ready, res_valid, act_fire_o, wgt_fire_o, load, sum_clear, acc_en, acc_clear;
  logic finalize;
  logic [PB-1:0] plane;
  lutcore_ctrl dut (
    .clk_i(clk),
    .rst_ni(rst_n),
    .act_valid_i(act_valid),
    .act_ready_o(act_ready),
    .act_last_i(act_last),
    .wgt_valid_i(wgt_valid),
    .wgt_ready_o(wgt_ready),
    .res_valid_o(res_valid),
    .res_ready_i(res_ready),
    .act_fire_o(act_fire_o),
    .wgt_fire_o(wgt_fire_o),
    .load_o(load),
    .sum_clear_o(sum_clear),
    .acc_en_o(acc_en),
`ifdef CTRL_LUT
    .finalize_o(finalize),
`endif
`ifdef CTRL_PLANE
    .plane_o(plane),
`endif
    .acc_clear_o(acc_clear)
  );
`ifndef CTRL_LUT
  assign finalize = 1'b0;
`endif
`ifndef CTRL_PLANE
  assign plane = '0;
`endif

  wire act_fire = act_valid && act_ready;
  wire wgt_fire = wgt_valid && wgt_ready;
  wire res_fire = res_valid && res_ready;

  // Beats of the current pass, as the environment saw them.
  logic [7:0] acts, wgts;   // activation / weight beats taken in this pass
  logic last_seen;          // act_last was taken in this pass
  logic res_valid_q, res_ready_q, first_step;
  // Handshake history, for the datapath controls LAT cycles later.
  logic [LAT-1:0] wgt_hist, first_wgt_hist, act_hist, first_act_hist;
  logic [PB-1:0] plane_hist [LAT];
  logic [PB-1:0] wplane;    // plane of the next weight beat
  logic acc_pending;        // an accumulator update (or finalize) is still to come
  logic [1:0] finals;       // finalize pulses seen in this pass
  (* keep *) logic [3:0] passes;  // result beats taken (for the reachability check)
  always_ff @(posedge clk) begin
    first_step <= !rst_n;
    res_valid_q <= res_valid && rst_n;
    res_ready_q <= res_ready;
    if (!rst_n) begin
      acts <= 8'd0;
      wgts <= 8'd0;
      last_seen <= 1'b0;
      wplane <= '0;
      wgt_hist <= '0;
      first_wgt_hist <= '0;
      act_hist <= '0;
      first_act_hist <= '0;
      finals <= 2'd0;
      passes <= 4'd0;
    end else begin
      if (res_fire) passes <= passes + 4'd1;
      if (act_fire) acts <= acts + 8'd1;
      if (act_fire && act_last) last_seen <= 1'b1;
      if (wgt_fire) begin
        wgts <= wgts + 8'd1;
        wplane <= (wplane == B - 1) ? '0 : wplane + 1'b1;
      end
      if (finalize) finals <= finals + 2'd1;
      if (res_fire) begin
        acts <= 8'd0;
        wgts <= 8'd0;
        last_seen <= 1'b0;
        finals <= 2'd0;
      end
      wgt_hist <= {wgt_hist, wgt_fire};
      first_wgt_hist <= {first_wgt_hist, wgt_fire && wgts == 8'd0};
      act_hist <= {act_hist, act_fire};
      first_act_hist <= {first_act_hist, act_fire && acts == 8'd0};
    end
    plane_hist[0] <= wplane;
    for (int i = 1; i < LAT; i++) plane_hist[i] <= plane_hist[i-1];
  end

  // The history registers are reset with the controller.
  wire settled = rst_n;

  logic p1_strobes, p2_res_held, p2_idle, p3_order, p3_count, p4_acc, p4_load, p4_drained;
  assign p1_strobes = !rst_n || (act_fire_o == act_fire && wgt_fire_o == wgt_fire);
  assign p2_res_held = !rst_n || first_step || !(res_valid_q && !res_ready_q) || res_valid;
  assign p2_idle = !rst_n || !(res_valid && (act_ready || wgt_ready));
  assign p3_order = !rst_n || (
      // a weight beat only for a loaded tile, at most B per activation beat
      (!wgt_fire || wgts < acts * B)
      // the next activation beat only once the loaded tile's beats are in
      && (!act_fire || wgts + (wgt_fire ? 1 : 0) == acts * B)
      // nothing after act_last until the result beat
      && (!act_fire || !last_seen));
  assign p3_count = !rst_n || !res_valid || (last_seen && wgts == acts * B && acts != 0);
  assign p4_acc = !rst_n || !settled || (
      acc_en == (wgt_hist[LAT-1] || finalize)
      && (!acc_en || acc_clear == first_wgt_hist[LAT-1])
      && (!finalize || (LUT && finals == 2'd0 && !wgt_hist[LAT-1]))
      && (!wgt_hist[LAT-1] || plane == plane_hist[LAT-1]));
  assign p4_load = !rst_n || !settled || (load == act_hist[0] && (!load || sum_clear == first_act_hist[0]));
  // The result beat only when every beat of the pass (and LUT: the finalize)
  // has reached the accumulators, which then stay idle while it is out.
  assign p4_drained = !rst_n || !settled || !res_valid
      || (!acc_en && !(|wgt_hist) && (!LUT || finals == 2'd1));

  always_comb begin
    assert (p1_strobes);
    assert (p2_res_held);
    assert (p2_idle);
    assert (p3_order);
    assert (p3_count);
    assert (p4_acc);
    assert (p4_load);
    assert (p4_drained);
  end
endmodule
