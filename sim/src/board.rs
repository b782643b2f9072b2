//! The FPGA board: host driver of the UART protocol of `hdl/lutcore_board.v`
//! ([`BoardDriver`]), the board descriptions ([`BoardSpec`], from
//! `boards/*.json`), and what runs the driver in co-simulation: the board
//! design ([`board_design`]: generated array + the hand-written `hdl/*.v` +
//! the co-simulation top `hdl/lutcore_nonsynth_board.v` with a fast baud
//! divider) and [`SimUart`], a byte stream that drives the Verilated board's
//! UART pins bit by bit.
//!
//! The driver talks to any `Read + Write` byte stream: a serial port on a real
//! board (e.g. the iCEBreaker's `/dev/ttyUSB1`, configured raw 8N1) or a
//! [`SimUart`]. The same code runs in both places.
//!
//! Protocol (`hdl/README.md` has the full description): little-endian
//! integers, one command at a time, every command answered.
//!
//! | command | bytes to the board | answer |
//! |---|---|---|
//! | INFO | `'I'` | 22 bytes: `"LUTC"`, version, log2 depths (act, wgt, res), beat bytes (act, wgt, res: u16), baud divider (u32), clock Hz (u32) |
//! | LOAD_ACT | `'A'` addr:u16 count:u16, then count activation beats | ACK (0x06) |
//! | LOAD_WGT | `'W'` addr:u16 count:u16, then count weight beats | ACK |
//! | RUN | `'R'` kt:u16 tiles:u16 wgt_beats:u32 | ACK, cycles:u32 |
//! | READ_RES | `'D'` addr:u16 count:u16 | count result beats |
//! | CYCLES | `'C'` | cycles:u32 of the last run |
//! | other | any other byte | NAK (0x15) |
//!
//! A run streams activation beats `0..kt` once per row tile (`act_last` on
//! beat `kt-1`), weight beats `0..wgt_beats` in order, and stores result beat
//! `t` of the run at result address `t`.

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use lutcore_contract::config::{Arch, ArrayConfig};
use lutcore_contract::interface::check_instance;
use lutcore_contract::layout::{check_fits, k_tiles, rtl_act_beats, Beat, WeightMatrix};
use lutcore_gen::{Design, GeneratedFile, Port};

use crate::model::SimModel;
use crate::SimError;

/// Opcodes and answers of the protocol.
pub mod op {
    /// Board description (22 bytes back).
    pub const INFO: u8 = b'I';
    /// Load activation beats.
    pub const LOAD_ACT: u8 = b'A';
    /// Load weight beats.
    pub const LOAD_WGT: u8 = b'W';
    /// Stream the buffers through the array.
    pub const RUN: u8 = b'R';
    /// Read result beats.
    pub const READ_RES: u8 = b'D';
    /// Cycle count of the last run.
    pub const CYCLES: u8 = b'C';
    /// Command done.
    pub const ACK: u8 = 0x06;
    /// Unknown command.
    pub const NAK: u8 = 0x15;
}

/// Protocol version this driver speaks.
pub const PROTOCOL_VERSION: u8 = 1;

/// The hand-written board files every board build uses (board-independent
/// part; the board tops in `hdl/boards/` add clock and pins), in the order of
/// `hdl/files.txt`, the list the scripts read ([`HDL_LIST`]; a test holds the
/// two together).
pub const HDL_FILES: &[(&str, &str)] = &[
    (
        "lutcore_uart_rx.v",
        include_str!("../../hdl/lutcore_uart_rx.v"),
    ),
    (
        "lutcore_uart_tx.v",
        include_str!("../../hdl/lutcore_uart_tx.v"),
    ),
    (
        "lutcore_ram_sdp.v",
        include_str!("../../hdl/lutcore_ram_sdp.v"),
    ),
    (
        "lutcore_reset_sync.v",
        include_str!("../../hdl/lutcore_reset_sync.v"),
    ),
    ("lutcore_skid.v", include_str!("../../hdl/lutcore_skid.v")),
    ("lutcore_board.v", include_str!("../../hdl/lutcore_board.v")),
];

/// `hdl/files.txt`: the names of [`HDL_FILES`], one a line, `#` comments.
pub const HDL_LIST: &str = include_str!("../../hdl/files.txt");

/// Name of the co-simulation top (`hdl/lutcore_nonsynth_board.v`).
pub const SIM_TOP: &str = "lutcore_nonsynth_board";

/// The co-simulation top: `lutcore_board` with its parameters taken from
/// macros, which [`board_design`] writes into [`SIM_PARAMS_FILE`] before it.
pub const SIM_TOP_FILE: (&str, &str) = (
    "lutcore_nonsynth_board.v",
    include_str!("../../hdl/lutcore_nonsynth_board.v"),
);

/// The file of `` `define LUTCORE_BOARD_* `` macros that sets [`SIM_TOP`]'s
/// parameters (Verilator reads the files in order, one compilation unit).
pub const SIM_PARAMS_FILE: &str = "lutcore_nonsynth_board_params.v";

/// Fewest clock cycles per UART bit the board's UART takes (`BAUD_DIV` of
/// `hdl/lutcore_board.v`).
pub const MIN_BAUD_DIV: u32 = 4;

/// Clock cycles per UART bit in co-simulation: the smallest the board's UART
/// takes, so a byte costs 40 clocks.
pub const SIM_BAUD_DIV: u32 = MIN_BAUD_DIV;

/// The board descriptions, one per board (`boards/<name>.json`), compiled in.
/// Each holds every fact of its board: device, tools and nextpnr flags,
/// clocks and PLL settings, UART baud, RAM depths, pins. The bitstream build
/// reads the same files (`scripts/fpga/board.py`).
pub const BOARD_FILES: &[(&str, &str)] = &[
    ("icebreaker", include_str!("../../boards/icebreaker.json")),
    ("ulx3s", include_str!("../../boards/ulx3s.json")),
];

/// The board the host side defaults to (`lutcore fpga`'s defaults, the
/// co-simulation's RAM depths).
pub const DEFAULT_BOARD: &str = "icebreaker";

/// The facts of a board description the host side uses (the rest of the file
/// is for the bitstream build).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct BoardSpec {
    /// Board name, as in `make bitstream BOARD=...`.
    pub name: String,
    /// Preset of the array config the board is built with by default.
    pub preset: String,
    /// On-chip buffers.
    pub ram: BoardRam,
    /// The UART to the host.
    pub uart: BoardUart,
}

/// A board's RAM depths (the activation RAM's depth comes from the config's
/// `max_k`, see [`BoardParams::for_config`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct BoardRam {
    /// log2 of the weight RAM depth (beats).
    pub wgt_aw: u32,
    /// log2 of the result RAM depth (beats).
    pub res_aw: u32,
}

/// A board's UART.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct BoardUart {
    /// Bits per second, 8N1.
    pub baud: u32,
}

impl BoardSpec {
    /// The description of board `name` (one of [`BOARD_FILES`]).
    pub fn named(name: &str) -> Result<BoardSpec, BoardError> {
        let Some((_, text)) = BOARD_FILES.iter().find(|(n, _)| *n == name) else {
            let known: Vec<&str> = BOARD_FILES.iter().map(|(n, _)| *n).collect();
            return Err(BoardError::Description(format!(
                "no board `{name}` (boards: {})",
                known.join(", ")
            )));
        };
        let spec: BoardSpec = serde_json::from_str(text)
            .map_err(|e| BoardError::Description(format!("boards/{name}.json: {e}")))?;
        if spec.name != name {
            return Err(BoardError::Description(format!(
                "boards/{name}.json names itself `{}`",
                spec.name
            )));
        }
        Ok(spec)
    }

    /// The description of [`DEFAULT_BOARD`]. The file is compiled in and
    /// parsed by this crate's tests, so this cannot fail in a tested build;
    /// a broken file panics with its parse error.
    pub fn default_board() -> &'static BoardSpec {
        static SPEC: std::sync::OnceLock<BoardSpec> = std::sync::OnceLock::new();
        SPEC.get_or_init(|| BoardSpec::named(DEFAULT_BOARD).unwrap_or_else(|e| panic!("{e}")))
    }
}

/// Everything that can go wrong talking to a board.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    /// The byte stream failed (or timed out). Not a `source`: the message
    /// already carries the I/O error's text once.
    #[error("board I/O: {0}")]
    Io(io::Error),
    /// The board answered something the protocol does not allow.
    #[error("board protocol: {0}")]
    Protocol(String),
    /// The GEMV does not fit the board's array or buffers.
    #[error("GEMV does not fit the board: {0}")]
    Shape(String),
    /// A layout error from `lutcore_contract`.
    #[error(transparent)]
    Layout(#[from] lutcore_contract::layout::LayoutError),
    /// Building or driving the co-simulation failed.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// A board description (`boards/*.json`) is missing or malformed.
    #[error("board description: {0}")]
    Description(String),
}

/// Largest log2 RAM depth `lutcore_board` supports: the protocol's RAM
/// addresses and counts are u16 and the board's address register `ptr_q` is
/// 16 bits wide, so every RAM holds at most 2^16 beats.
pub const MAX_AW: u32 = 16;

impl From<io::Error> for BoardError {
    fn from(e: io::Error) -> BoardError {
        BoardError::Io(e)
    }
}

/// Parameters of `lutcore_board` besides the array's beat widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoardParams {
    /// log2 of the activation RAM depth (beats).
    pub act_aw: u32,
    /// log2 of the weight RAM depth (beats).
    pub wgt_aw: u32,
    /// log2 of the result RAM depth (beats).
    pub res_aw: u32,
    /// Clock cycles per UART bit (≥ [`MIN_BAUD_DIV`]).
    pub baud_div: u32,
}

impl BoardParams {
    /// What the build of [`DEFAULT_BOARD`] uses: an activation RAM for
    /// `max_k` ([`ArrayConfig::act_addr_bits`], the manifest's
    /// `widths.act_addr` the FPGA build reads), the description's weight
    /// and result RAMs, with the co-simulation's baud divider [`SIM_BAUD_DIV`].
    pub fn for_config(cfg: &ArrayConfig) -> BoardParams {
        let ram = BoardSpec::default_board().ram;
        BoardParams {
            act_aw: cfg.act_addr_bits(),
            wgt_aw: ram.wgt_aw,
            res_aw: ram.res_aw,
            baud_div: SIM_BAUD_DIV,
        }
    }

    /// Check that the board top can be built with these parameters: every
    /// log2 depth in `1..=`[`MAX_AW`], a baud divider of at least [`MIN_BAUD_DIV`].
    pub fn check(&self) -> Result<(), BoardError> {
        for (name, aw) in [
            ("activation", self.act_aw),
            ("weight", self.wgt_aw),
            ("result", self.res_aw),
        ] {
            if !(1..=MAX_AW).contains(&aw) {
                return Err(BoardError::Shape(format!(
                    "log2 {name} RAM depth {aw} is outside 1..={MAX_AW} (the protocol's RAM addresses are 16 bits)"
                )));
            }
        }
        if self.baud_div < MIN_BAUD_DIV {
            return Err(BoardError::Shape(format!(
                "baud divider {} < {MIN_BAUD_DIV}",
                self.baud_div
            )));
        }
        Ok(())
    }

    /// Check, before building anything, that [`BoardDriver::gemv`] can run a
    /// GEMV of reduction length `k` on a board built with these parameters
    /// (the activations fit the activation RAM, one row tile fits the weight
    /// RAM; more rows only take more runs).
    pub fn check_gemv(&self, cfg: &ArrayConfig, k: usize) -> Result<(), BoardError> {
        self.check()?;
        plan(cfg, k, self.act_aw, self.wgt_aw, self.res_aw).map(|_| ())
    }
}

/// `2^aw` beats, or `None` beyond [`MAX_AW`] (no shift can overflow).
fn depth(aw: u32) -> Option<usize> {
    (aw <= MAX_AW).then(|| 1usize << aw)
}

/// Activation beats per pass and row tiles per run of a GEMV of reduction
/// length `k` on a board with the given log2 RAM depths.
fn plan(
    cfg: &ArrayConfig,
    k: usize,
    act_aw: u32,
    wgt_aw: u32,
    res_aw: u32,
) -> Result<(usize, usize), BoardError> {
    check_fits(cfg, k)?;
    let bad =
        |what: &str, aw: u32| BoardError::Shape(format!("log2 {what} RAM depth {aw} > {MAX_AW}"));
    let act = depth(act_aw).ok_or_else(|| bad("activation", act_aw))?;
    let wgt = depth(wgt_aw).ok_or_else(|| bad("weight", wgt_aw))?;
    let res = depth(res_aw).ok_or_else(|| bad("result", res_aw))?;
    let kt = k_tiles(cfg, k);
    if kt > act || kt > usize::from(u16::MAX) {
        return Err(BoardError::Shape(format!(
            "K = {k} needs {kt} activation beats; the board holds {act}"
        )));
    }
    let per_tile = kt * cfg.beats_per_tile();
    let batch = (wgt / per_tile).min(res).min(usize::from(u16::MAX));
    if batch == 0 {
        return Err(BoardError::Shape(format!(
            "one row tile at K = {k} takes {per_tile} weight beats; the board's weight RAM holds {wgt}"
        )));
    }
    Ok((kt, batch))
}

/// The board top's file in [`HDL_FILES`] and its array instance, held to the
/// stream interface by [`board_design`].
pub const BOARD_FILE: &str = "lutcore_board.v";
/// Name of the array instance inside [`BOARD_FILE`].
pub const ARRAY_INSTANCE: &str = "u_array";

/// The co-simulation design: the generated array of `cfg`, the board files
/// ([`HDL_FILES`]), the macros of `params` ([`SIM_PARAMS_FILE`]) and the top
/// [`SIM_TOP`] that sets `lutcore_board`'s parameters from them (ports:
/// [`sim_ports`]).
pub fn board_design(cfg: &ArrayConfig, params: &BoardParams) -> Result<Design, BoardError> {
    if cfg.arch() != Arch::Lut {
        return Err(BoardError::Shape(format!(
            "the board wraps a LUT array; config `{}` is not arch=lut",
            cfg.slug()
        )));
    }
    params.check()?;
    let core = lutcore_gen::generate(cfg).map_err(SimError::from)?;
    // The board's hand-written array instance must connect the stream interface.
    check_instance(
        BOARD_FILE,
        HDL_FILES
            .iter()
            .find(|f| f.0 == BOARD_FILE)
            .map_or("", |f| f.1),
        ARRAY_INSTANCE,
    )
    .map_err(SimError::from)?;
    let mut files = core.files.clone();
    files.extend(HDL_FILES.iter().map(|(n, c)| GeneratedFile {
        name: n.to_string(),
        contents: c.to_string(),
    }));
    files.push(GeneratedFile {
        name: SIM_PARAMS_FILE.to_string(),
        contents: sim_params(cfg, params),
    });
    files.push(GeneratedFile {
        name: SIM_TOP_FILE.0.to_string(),
        contents: SIM_TOP_FILE.1.to_string(),
    });
    Ok(Design {
        config: cfg.clone(),
        top: SIM_TOP.to_string(),
        ports: sim_ports(),
        files,
    })
}

/// Ports of the co-simulation top (`hdl/lutcore_nonsynth_board.v`).
pub fn sim_ports() -> Vec<Port> {
    vec![
        Port::input("clk_i", 1, "clock"),
        Port::input("rst_ni", 1, "asynchronous reset, active low"),
        Port::input("uart_rx_i", 1, "UART from the host, idle high"),
        Port::output("uart_tx_o", 1, "UART to the host, idle high"),
        Port::output(
            "status_o",
            4,
            "heartbeat, running, byte toggle, out of reset",
        ),
    ]
}

/// The macros [`SIM_TOP`] takes its parameters from (data only: the module
/// is the static `hdl/lutcore_nonsynth_board.v`).
fn sim_params(cfg: &ArrayConfig, p: &BoardParams) -> String {
    let values = [
        ("ACT_W", cfg.act_beat_bits()),
        ("WGT_W", cfg.weight_beat_bits()),
        ("RES_W", cfg.result_beat_bits()),
        ("ACT_AW", p.act_aw),
        ("WGT_AW", p.wgt_aw),
        ("RES_AW", p.res_aw),
        ("BAUD_DIV", p.baud_div),
    ];
    let mut text = format!(
        "// Parameters of {SIM_TOP} (lutcore_sim::board::board_design).\n// Config: {cfg}\n"
    );
    for (name, value) in values {
        text += &format!("`define LUTCORE_BOARD_{name} {value}\n");
    }
    text
}

// ------------------------------------------------------------------ SimUart

/// Decodes 8N1 frames from the board's TX pin, one sample per clock.
#[derive(Debug)]
struct TxDecoder {
    div: u32,
    /// Cycles since the start bit's first low sample, and the bits so far.
    frame: Option<(u32, u8)>,
}

impl TxDecoder {
    fn feed(&mut self, level: bool) -> Option<u8> {
        let div = self.div;
        match self.frame.as_mut() {
            None => {
                if !level {
                    self.frame = Some((0, 0));
                }
                None
            }
            Some((t, bits)) => {
                *t += 1;
                let (t, half) = (*t, div / 2);
                if t >= div + half && (t - half) % div == 0 {
                    let n = (t - half) / div; // 1..=8 data bits, 9 stop bit
                    if n <= 8 {
                        *bits |= u8::from(level) << (n - 1);
                    } else {
                        let byte = *bits;
                        self.frame = None;
                        return level.then_some(byte); // framing error: dropped
                    }
                }
                None
            }
        }
    }
}

/// A byte stream over the UART pins of a Verilated board top: writing a byte
/// drives `uart_rx_i` for ten bit times of `baud_div` clocks, reading clocks
/// the model until `uart_tx_o` has delivered a byte. The TX pin is decoded on
/// every clock, also while writing.
pub struct SimUart {
    model: SimModel,
    rx: usize,
    tx: usize,
    div: u32,
    dec: TxDecoder,
    received: VecDeque<u8>,
    cycles: u64,
    /// Clock cycles a read waits for a byte before failing with `TimedOut`.
    pub timeout_cycles: u64,
}

impl std::fmt::Debug for SimUart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimUart")
            .field("div", &self.div)
            .field("cycles", &self.cycles)
            .finish_non_exhaustive()
    }
}

impl SimUart {
    /// Reset `model` (a board top with `clk_i`, `rst_ni`, `uart_rx_i`,
    /// `uart_tx_o`, built with `baud_div` clocks per bit) and wrap it.
    pub fn new(mut model: SimModel, baud_div: u32) -> Result<SimUart, SimError> {
        let rst = model.port_index("rst_ni")?;
        let rx = model.port_index("uart_rx_i")?;
        let tx = model.port_index("uart_tx_o")?;
        model.set_bit(rx, true)?;
        model.set_bit(rst, false)?;
        for _ in 0..4 {
            model.tick();
        }
        model.set_bit(rst, true)?;
        for _ in 0..4 {
            model.tick();
        }
        let timeout_cycles = 200_000 + 100 * u64::from(baud_div) * 10;
        Ok(SimUart {
            model,
            rx,
            tx,
            div: baud_div,
            dec: TxDecoder {
                div: baud_div,
                frame: None,
            },
            received: VecDeque::new(),
            cycles: 0,
            timeout_cycles,
        })
    }

    /// Clock cycles simulated since the reset.
    pub fn cycles(&self) -> u64 {
        self.cycles
    }

    /// The model (e.g. to read `status_o`).
    pub fn model(&self) -> &SimModel {
        &self.model
    }

    /// A failed assertion of the array inside the bridge, as an I/O error
    /// (checked once per write and read, not per clock).
    fn check_assertions(&self) -> io::Result<()> {
        match self.model.error() {
            Some(e) => Err(io::Error::other(e)),
            None => Ok(()),
        }
    }

    fn step(&mut self) -> io::Result<()> {
        self.model.tick();
        self.cycles += 1;
        let level = self.model.get_bit(self.tx).map_err(io::Error::other)?;
        if let Some(b) = self.dec.feed(level) {
            self.received.push_back(b);
        }
        Ok(())
    }
}

impl Write for SimUart {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &byte in buf {
            let frame = (0..10).map(|i| match i {
                0 => false,
                9 => true,
                _ => (byte >> (i - 1)) & 1 == 1,
            });
            for level in frame {
                self.model
                    .set_bit(self.rx, level)
                    .map_err(io::Error::other)?;
                for _ in 0..self.div {
                    self.step()?;
                }
            }
        }
        self.check_assertions()?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for SimUart {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let start = self.cycles;
        while self.received.is_empty() {
            if self.cycles - start >= self.timeout_cycles {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no byte from the board's TX pin in {} cycles",
                        self.timeout_cycles
                    ),
                ));
            }
            self.step()?;
        }
        self.check_assertions()?;
        let n = buf.len().min(self.received.len());
        for (slot, b) in buf.iter_mut().zip(self.received.drain(..n)) {
            *slot = b;
        }
        Ok(n)
    }
}

// ------------------------------------------------------------------ driver

/// What the board reports about itself (INFO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoardInfo {
    /// Protocol version.
    pub version: u8,
    /// log2 of the activation RAM depth (beats).
    pub act_aw: u8,
    /// log2 of the weight RAM depth (beats).
    pub wgt_aw: u8,
    /// log2 of the result RAM depth (beats).
    pub res_aw: u8,
    /// Bytes per activation beat.
    pub act_bytes: u16,
    /// Bytes per weight beat.
    pub wgt_bytes: u16,
    /// Bytes per result beat.
    pub res_bytes: u16,
    /// Clock cycles per UART bit.
    pub baud_div: u32,
    /// Board clock in Hz (0 in co-simulation).
    pub clk_hz: u32,
}

/// The outcome of a GEMV on the board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardGemv {
    /// `y[r]` for every row `r < M`.
    pub results: Vec<i32>,
    /// Array clock cycles of all runs (the board's cycle counter: from the
    /// first beat offered until the last result stored).
    pub cycles: u64,
    /// Runs (RUN commands) the GEMV took: row tiles are batched to fit the
    /// weight and result RAMs.
    pub runs: usize,
    /// Bytes sent to / received from the board.
    pub bytes_out: u64,
    /// Bytes received from the board.
    pub bytes_in: u64,
}

/// Any byte stream the driver can talk over.
pub trait ByteStream: Read + Write {}
impl<T: Read + Write + ?Sized> ByteStream for T {}

/// Host side of the board protocol, over any byte stream.
pub struct BoardDriver<'a> {
    io: Box<dyn ByteStream + 'a>,
    info: Option<BoardInfo>,
    bytes_out: u64,
    bytes_in: u64,
}

impl std::fmt::Debug for BoardDriver<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoardDriver")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl<'a> BoardDriver<'a> {
    /// A driver over `io` (a serial port, a [`SimUart`], ...).
    pub fn new(io: Box<dyn ByteStream + 'a>) -> BoardDriver<'a> {
        BoardDriver {
            io,
            info: None,
            bytes_out: 0,
            bytes_in: 0,
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), BoardError> {
        self.io.write_all(bytes)?;
        self.io.flush()?;
        self.bytes_out += bytes.len() as u64;
        Ok(())
    }

    fn recv(&mut self, n: usize) -> Result<Vec<u8>, BoardError> {
        let mut buf = vec![0u8; n];
        self.io.read_exact(&mut buf)?;
        self.bytes_in += n as u64;
        Ok(buf)
    }

    fn expect_ack(&mut self, what: &str) -> Result<(), BoardError> {
        match self.recv(1)?[0] {
            op::ACK => Ok(()),
            op::NAK => Err(BoardError::Protocol(format!(
                "{what}: the board answered NAK (unknown command)"
            ))),
            b => Err(BoardError::Protocol(format!(
                "{what}: expected ACK (0x06), got 0x{b:02x}"
            ))),
        }
    }

    /// INFO: the board's buffers, beat sizes and clock (cached).
    pub fn info(&mut self) -> Result<BoardInfo, BoardError> {
        if let Some(i) = self.info {
            return Ok(i);
        }
        self.send(&[op::INFO])?;
        let b = self.recv(22)?;
        if &b[0..4] != b"LUTC" {
            return Err(BoardError::Protocol(format!(
                "INFO: bad magic {:02x?} (not a lutcore board?)",
                &b[0..4]
            )));
        }
        let u16at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let info = BoardInfo {
            version: b[4],
            act_aw: b[5],
            wgt_aw: b[6],
            res_aw: b[7],
            act_bytes: u16at(8),
            wgt_bytes: u16at(10),
            res_bytes: u16at(12),
            baud_div: u32at(14),
            clk_hz: u32at(18),
        };
        if info.version != PROTOCOL_VERSION {
            return Err(BoardError::Protocol(format!(
                "board speaks protocol version {}, this driver {PROTOCOL_VERSION}",
                info.version
            )));
        }
        let aws = [info.act_aw, info.wgt_aw, info.res_aw];
        if aws.iter().any(|&aw| u32::from(aw) > MAX_AW) {
            return Err(BoardError::Protocol(format!(
                "INFO: log2 RAM depths (act, wgt, res) {aws:?} beyond the protocol's 16-bit addresses"
            )));
        }
        if info.act_bytes == 0 || info.wgt_bytes == 0 || info.res_bytes == 0 {
            return Err(BoardError::Protocol(format!(
                "INFO: a beat of 0 bytes (act, wgt, res: {}, {}, {})",
                info.act_bytes, info.wgt_bytes, info.res_bytes
            )));
        }
        self.info = Some(info);
        Ok(info)
    }

    /// Check that the board's array has the beat sizes of `cfg`.
    pub fn check_config(&mut self, cfg: &ArrayConfig) -> Result<BoardInfo, BoardError> {
        let i = self.info()?;
        let want = (
            cfg.act_beat_bits() / 8,
            cfg.weight_beat_bits() / 8,
            cfg.result_beat_bits() / 8,
        );
        let have = (
            u32::from(i.act_bytes),
            u32::from(i.wgt_bytes),
            u32::from(i.res_bytes),
        );
        if want != have {
            return Err(BoardError::Shape(format!(
                "board beats are {have:?} bytes (act, wgt, res) but config `{}` needs {want:?}",
                cfg.slug()
            )));
        }
        Ok(i)
    }

    fn load(
        &mut self,
        opcode: u8,
        addr: usize,
        beats: &[Beat],
        beat_bytes: usize,
    ) -> Result<(), BoardError> {
        for (c, chunk) in beats.chunks(u16::MAX as usize).enumerate() {
            let a = addr + c * u16::MAX as usize;
            let a16 = u16::try_from(a)
                .map_err(|_| BoardError::Shape(format!("RAM address {a} > 65535")))?;
            let mut msg = Vec::with_capacity(5 + chunk.len() * beat_bytes);
            msg.push(opcode);
            msg.extend_from_slice(&a16.to_le_bytes());
            msg.extend_from_slice(&(chunk.len() as u16).to_le_bytes());
            for beat in chunk {
                let bytes: Vec<u8> = beat.iter().flat_map(|w| w.to_le_bytes()).collect();
                msg.extend((0..beat_bytes).map(|i| bytes.get(i).copied().unwrap_or(0)));
            }
            self.send(&msg)?;
            self.expect_ack(if opcode == op::LOAD_ACT {
                "LOAD_ACT"
            } else {
                "LOAD_WGT"
            })?;
        }
        Ok(())
    }

    /// LOAD_ACT: activation beats into the activation RAM from `addr`.
    pub fn load_act(&mut self, addr: usize, beats: &[Beat]) -> Result<(), BoardError> {
        let n = usize::from(self.info()?.act_bytes);
        self.load(op::LOAD_ACT, addr, beats, n)
    }

    /// LOAD_WGT: weight beats into the weight RAM from `addr`.
    pub fn load_wgt(&mut self, addr: usize, beats: &[Beat]) -> Result<(), BoardError> {
        let n = usize::from(self.info()?.wgt_bytes);
        self.load(op::LOAD_WGT, addr, beats, n)
    }

    /// RUN: stream `kt` activation beats per row tile for `tiles` row tiles
    /// and `wgt_beats` weight beats; returns the run's clock cycles.
    pub fn run(&mut self, kt: u16, tiles: u16, wgt_beats: u32) -> Result<u32, BoardError> {
        let mut msg = vec![op::RUN];
        msg.extend_from_slice(&kt.to_le_bytes());
        msg.extend_from_slice(&tiles.to_le_bytes());
        msg.extend_from_slice(&wgt_beats.to_le_bytes());
        self.send(&msg)?;
        self.expect_ack("RUN")?;
        let c = self.recv(4)?;
        Ok(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// READ_RES: `count` result beats from `addr`, as raw bytes each.
    pub fn read_results(&mut self, addr: u16, count: u16) -> Result<Vec<Vec<u8>>, BoardError> {
        let rb = usize::from(self.info()?.res_bytes);
        let mut msg = vec![op::READ_RES];
        msg.extend_from_slice(&addr.to_le_bytes());
        msg.extend_from_slice(&count.to_le_bytes());
        self.send(&msg)?;
        let bytes = self.recv(rb * usize::from(count))?;
        Ok(bytes.chunks(rb).map(<[u8]>::to_vec).collect())
    }

    /// CYCLES: the cycle count of the last run.
    pub fn cycles(&mut self) -> Result<u32, BoardError> {
        self.send(&[op::CYCLES])?;
        let c = self.recv(4)?;
        Ok(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// Send a raw byte and return the one-byte answer (protocol tests).
    pub fn raw_command(&mut self, byte: u8) -> Result<u8, BoardError> {
        self.send(&[byte])?;
        Ok(self.recv(1)?[0])
    }

    /// `y = W·x` on the board's array of config `cfg`: load the activations
    /// once, then for each batch of row tiles that fits the weight and result
    /// RAMs: load its weight beats, run, read its result beats.
    pub fn gemv(
        &mut self,
        cfg: &ArrayConfig,
        w: &WeightMatrix,
        x: &[i8],
    ) -> Result<BoardGemv, BoardError> {
        crate::gemv::check_x_len(w, x.len())?;
        // Checks the weight type, M > 0 and K <= max_k, and lays out every row tile.
        let packed = crate::gemv::PackedWeights::new(cfg, w)?;
        let info = self.check_config(cfg)?;
        let (out0, in0) = (self.bytes_out, self.bytes_in);
        let (kt, batch) = plan(
            cfg,
            w.cols(),
            info.act_aw.into(),
            info.wgt_aw.into(),
            info.res_aw.into(),
        )?;
        let rows = cfg.rows();
        let tiles = packed.row_tiles();
        self.load_act(0, &rtl_act_beats(cfg, x))?;
        let mut results = Vec::with_capacity(tiles * rows);
        let (mut cycles, mut runs) = (0u64, 0usize);
        let mut t0 = 0;
        while t0 < tiles {
            let n = batch.min(tiles - t0);
            let beats: Vec<Beat> = packed.tile_beats(t0..t0 + n).map(<[u32]>::to_vec).collect();
            self.load_wgt(0, &beats)?;
            cycles += u64::from(self.run(kt as u16, n as u16, beats.len() as u32)?);
            runs += 1;
            for beat in self.read_results(0, n as u16)? {
                results.extend(
                    beat.chunks(4)
                        .take(rows)
                        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                );
            }
            t0 += n;
        }
        results.truncate(w.rows());
        Ok(BoardGemv {
            results,
            cycles,
            runs,
            bytes_out: self.bytes_out - out0,
            bytes_in: self.bytes_in - in0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoder_reads_a_frame_sampled_once_per_clock() {
        for div in [4u32, 5, 16] {
            let mut dec = TxDecoder { div, frame: None };
            let byte = 0xa5u8;
            let mut line: Vec<bool> = vec![true; 7];
            for i in 0..10 {
                let level = match i {
                    0 => false,
                    9 => true,
                    _ => (byte >> (i - 1)) & 1 == 1,
                };
                line.extend(std::iter::repeat_n(level, div as usize));
            }
            line.extend([true; 3]);
            let got: Vec<u8> = line.into_iter().filter_map(|l| dec.feed(l)).collect();
            assert_eq!(got, vec![byte], "div {div}");
        }
    }

    #[test]
    fn params_beyond_16_bit_addresses_are_refused_before_any_shift() {
        let cfg = lutcore_contract::config::preset("ice40").unwrap();
        let ok = BoardParams::for_config(&cfg);
        assert!(ok.check().is_ok());
        for bad in [
            BoardParams { wgt_aw: 0, ..ok },
            BoardParams { wgt_aw: 17, ..ok },
            BoardParams { res_aw: 64, ..ok },
            BoardParams { act_aw: 99, ..ok },
            BoardParams { baud_div: 3, ..ok },
        ] {
            let e = bad.check().unwrap_err().to_string();
            assert!(e.contains("1..=16") || e.contains("baud divider"), "{e}");
            assert!(board_design(&cfg, &bad).is_err());
            assert!(bad.check_gemv(&cfg, 64).is_err());
        }
        // K beyond max_k, and a row tile larger than the weight RAM.
        assert!(ok
            .check_gemv(&cfg, 4097)
            .unwrap_err()
            .to_string()
            .contains("max_k"));
        let small = BoardParams { wgt_aw: 4, ..ok };
        assert!(small.check_gemv(&cfg, 32).is_ok());
        assert!(small
            .check_gemv(&cfg, 33)
            .unwrap_err()
            .to_string()
            .contains("holds 16"));
        assert!(plan(&cfg, 64, 200, 11, 8).is_err());
    }

    #[test]
    fn the_sim_top_sets_the_array_widths() {
        let cfg = lutcore_contract::config::preset("ice40").unwrap();
        let d = board_design(&cfg, &BoardParams::for_config(&cfg)).unwrap();
        let [.., params, top] = &d.files[..] else {
            panic!("too few files")
        };
        assert_eq!(params.name, SIM_PARAMS_FILE);
        for line in [
            "ACT_W 32",
            "WGT_W 16",
            "RES_W 128",
            "ACT_AW 10",
            "WGT_AW 11",
            "RES_AW 8",
            "BAUD_DIV 4",
        ] {
            assert!(
                params
                    .contents
                    .contains(&format!("`define LUTCORE_BOARD_{line}\n")),
                "{line}: {}",
                params.contents
            );
        }
        // Every macro the top uses is defined, and the top declares the ports of sim_ports().
        for name in [
            "ACT_W", "WGT_W", "RES_W", "ACT_AW", "WGT_AW", "RES_AW", "BAUD_DIV",
        ] {
            assert!(
                top.contents.contains(&format!("`LUTCORE_BOARD_{name})")),
                "{name}"
            );
        }
        assert!(top.contents.contains(&format!("module {SIM_TOP} (")));
        for p in sim_ports() {
            assert!(
                top.contents.contains(&format!(" {},", p.name))
                    || top.contents.contains(&format!(" {} ", p.name)),
                "{}",
                p.name
            );
        }
        assert_eq!(d.top, SIM_TOP);
    }

    #[test]
    fn hdl_files_are_the_list_the_scripts_read() {
        let listed: Vec<&str> = HDL_LIST
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let compiled: Vec<&str> = HDL_FILES.iter().map(|f| f.0).collect();
        assert_eq!(
            compiled, listed,
            "sim/src/board.rs HDL_FILES vs hdl/files.txt"
        );
    }

    #[test]
    fn every_board_description_parses_and_names_itself() {
        for (name, _) in BOARD_FILES {
            let spec = BoardSpec::named(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                lutcore_contract::config::preset(&spec.preset).is_ok(),
                "{name}: preset {}",
                spec.preset
            );
            assert!(
                (1..=MAX_AW).contains(&spec.ram.wgt_aw) && (1..=MAX_AW).contains(&spec.ram.res_aw),
                "{name}"
            );
        }
        assert_eq!(BoardSpec::default_board().name, DEFAULT_BOARD);
        let e = BoardSpec::named("nexys").unwrap_err().to_string();
        assert!(
            e.contains("no board `nexys`") && e.contains("icebreaker, ulx3s"),
            "{e}"
        );
    }
}
