//! `lutcore fpga run|cosim` on hostile input (issue 14): every flag bounded and
//! checked before anything is allocated, opened or built. Each case runs the real
//! binary under `ulimit -v` and `timeout` (tests/common) and must fail with a
//! clear message. None of them builds a Verilator model: they fail before that.
//!
//! The serial-port cases that need a terminal use a pseudo-terminal pair: the
//! binary opens the pair's `/dev/pts/N` as its `--port`, and a thread of the
//! test plays a broken board on the other side (silent, wrong magic, absurd
//! INFO answer).

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{lutcore_in, refuses};
use serialport::{SerialPort, TTYPort};

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn cosim_wgt_aw_64_is_refused() {
    // It used to wrap the `1 << wgt_aw` shift.
    refuses(
        dir().path(),
        &["fpga", "cosim", "--wgt-aw", "64"],
        &["--wgt-aw", "64", "1..=16"],
    );
}

#[test]
fn cosim_wgt_aw_0_is_refused() {
    refuses(
        dir().path(),
        &["fpga", "cosim", "--wgt-aw", "0"],
        &["--wgt-aw", "1..=16"],
    );
}

#[test]
fn cosim_res_aw_99_is_refused() {
    refuses(
        dir().path(),
        &["fpga", "cosim", "--res-aw", "99"],
        &["--res-aw", "99", "1..=16"],
    );
}

#[test]
fn cosim_huge_shape_is_refused_before_allocating() {
    // K within max_k, M·K = 2^36 weights: would allocate hundreds of GiB.
    refuses(
        dir().path(),
        &["fpga", "cosim", "--shape", "16777216x4096"],
        &["16777216x4096", "M·K", "2^20"],
    );
    refuses(
        dir().path(),
        &[
            "fpga",
            "run",
            "--shape",
            "16777216x4096",
            "--port",
            "/nonexistent/tty",
        ],
        &["16777216x4096", "M·K", "2^24"],
    );
}

#[test]
fn cosim_zero_shape_is_refused() {
    refuses(
        dir().path(),
        &["fpga", "cosim", "--shape", "0x256"],
        &["--shape", "0x256"],
    );
    refuses(
        dir().path(),
        &["fpga", "cosim", "--shape", "64x0"],
        &["--shape", "64x0"],
    );
}

#[test]
fn cosim_k_beyond_the_presets_max_k_is_refused() {
    refuses(
        dir().path(),
        &["fpga", "cosim", "--shape", "4x4097"],
        &["4x4097", "K = 4097", "max_k"],
    );
}

#[test]
fn cosim_a_row_tile_larger_than_the_weight_ram_is_refused() {
    // ice40, K = 4096: one row tile is 2048 weight beats; 2^4 = 16 fit.
    refuses(
        dir().path(),
        &["fpga", "cosim", "--shape", "4x4096", "--wgt-aw", "4"],
        &["--wgt-aw 4", "2048 weight beats", "holds 16"],
    );
}

#[test]
fn cosim_a_mac_preset_or_a_bad_preset_is_refused() {
    refuses(
        dir().path(),
        &["fpga", "cosim", "--preset", "mac-tiny"],
        &["arch=lut"],
    );
    refuses(
        dir().path(),
        &["fpga", "cosim", "--preset", "nope"],
        &["preset", "nope", "ice40"],
    );
    refuses(
        dir().path(),
        &[
            "fpga",
            "run",
            "--preset",
            "nope",
            "--port",
            "/nonexistent/tty",
        ],
        &["preset", "nope"],
    );
}

#[test]
fn cosim_a_config_beyond_16_bit_addresses_or_missing_is_refused() {
    let d = dir();
    let cfg = r#"{"arch":"lut","rows":4,"k_groups":1,"g":4,"weights":"ternary","act_bits":8,"max_k":1048576}"#;
    std::fs::write(d.path().join("big.json"), cfg).expect("write config");
    refuses(
        d.path(),
        &["fpga", "cosim", "--config", "big.json"],
        &["max_k = 1048576", "2^18", "2^16"],
    );
    refuses(
        d.path(),
        &["fpga", "cosim", "--config", "missing.json"],
        &["missing.json"],
    );
}

#[test]
fn run_bad_shape_with_a_missing_port_names_the_shape() {
    let d = dir();
    let args = [
        "fpga",
        "run",
        "--shape",
        "64x99999",
        "--port",
        "/nonexistent/ttyUSB9",
    ];
    refuses(d.path(), &args, &["64x99999", "max_k"]);
    let stderr = String::from_utf8_lossy(&lutcore_in(d.path(), &args).stderr).into_owned();
    assert!(
        !stderr.contains("ttyUSB9"),
        "the shape is checked before the port is opened:\n{stderr}"
    );
}

#[test]
fn run_missing_port_is_named() {
    refuses(
        dir().path(),
        &["fpga", "run", "--port", "/nonexistent/ttyUSB9"],
        &[
            "/nonexistent/ttyUSB9",
            "no such device",
            "plugged in",
            "/dev/ttyUSB1",
        ],
    );
}

#[test]
fn run_regular_file_directory_or_dev_null_as_port_is_not_a_serial_device() {
    let d = dir();
    std::fs::write(d.path().join("notatty"), b"hello").expect("write file");
    refuses(
        d.path(),
        &["fpga", "run", "--port", "notatty"],
        &["notatty", "not a serial device", "regular file"],
    );
    refuses(
        d.path(),
        &["fpga", "run", "--port", "."],
        &["not a serial device", "directory"],
    );
    refuses(
        d.path(),
        &["fpga", "run", "--port", "/dev/null"],
        &["/dev/null", "not a serial device"],
    );
}

#[test]
fn run_baud_out_of_range_is_refused() {
    refuses(
        dir().path(),
        &["fpga", "run", "--baud", "0"],
        &["--baud", "300..=3000000"],
    );
    refuses(
        dir().path(),
        &["fpga", "run", "--baud", "99999999"],
        &["--baud", "300..=3000000"],
    );
}

/// A broken board on the master side of a pseudo-terminal: every `'I'` it reads
/// is answered with `info` (nothing at all when `None`), until the test is done.
struct FakeBoard {
    path: String,
    done: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<Vec<u8>>>,
    _slave: TTYPort,
}

impl FakeBoard {
    fn new(info: Option<Vec<u8>>) -> FakeBoard {
        let (mut master, slave) = TTYPort::pair().expect("pseudo-terminal pair");
        let path = slave.name().expect("pty name");
        master
            .set_timeout(Duration::from_millis(50))
            .expect("timeout");
        let done = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&done);
        let thread = thread::spawn(move || {
            let (mut seen, mut buf) = (Vec::new(), [0u8; 256]);
            let deadline = Instant::now() + Duration::from_secs(30);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                if let Ok(n) = master.read(&mut buf) {
                    seen.extend_from_slice(&buf[..n]);
                    if let Some(answer) = info.as_ref().filter(|_| buf[..n].contains(&b'I')) {
                        master.write_all(answer).expect("answer");
                    }
                }
            }
            seen
        });
        FakeBoard {
            path,
            done,
            thread: Some(thread),
            _slave: slave,
        }
    }

    /// What the board received.
    fn finish(mut self) -> Vec<u8> {
        self.done.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("thread")
            .join()
            .expect("fake board thread")
    }
}

/// A 22-byte INFO answer.
fn info(magic: &[u8; 4], aw: [u8; 3], beat_bytes: [u16; 3]) -> Vec<u8> {
    let mut b = magic.to_vec();
    b.push(1);
    b.extend_from_slice(&aw);
    for n in beat_bytes {
        b.extend_from_slice(&n.to_le_bytes());
    }
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&12_000_000u32.to_le_bytes());
    b
}

#[test]
fn run_a_silent_board_times_out_with_advice() {
    let board = FakeBoard::new(None);
    let port = board.path.clone();
    refuses(
        dir().path(),
        &["fpga", "run", "--port", &port],
        &[
            &port,
            "no answer from the board",
            "within 2 s",
            "115200 baud",
        ],
    );
    assert_eq!(board.finish(), b"I", "the driver asks for INFO first");
}

#[test]
fn run_a_board_with_the_wrong_magic_is_not_a_lutcore_board() {
    let board = FakeBoard::new(Some(info(b"NOPE", [10, 11, 8], [4, 2, 16])));
    let port = board.path.clone();
    refuses(
        dir().path(),
        &["fpga", "run", "--port", &port],
        &[&port, "bad magic", "not a lutcore board"],
    );
    board.finish();
}

#[test]
fn run_a_board_reporting_absurd_ram_depths_is_refused_without_a_panic() {
    // log2 depths of 200 used to reach `1usize << aw` unchecked.
    let board = FakeBoard::new(Some(info(b"LUTC", [200, 200, 200], [4, 2, 16])));
    let port = board.path.clone();
    refuses(
        dir().path(),
        &["fpga", "run", "--port", &port],
        &[&port, "16-bit addresses"],
    );
    board.finish();
}

#[test]
fn run_a_board_built_for_another_config_is_refused() {
    // ice40 beats are (4, 2, 16) bytes; this board says (8, 2, 16).
    let board = FakeBoard::new(Some(info(b"LUTC", [10, 11, 8], [8, 2, 16])));
    let port = board.path.clone();
    refuses(
        dir().path(),
        &["fpga", "run", "--port", &port],
        &[&port, "board beats are", "needs"],
    );
    board.finish();
}
