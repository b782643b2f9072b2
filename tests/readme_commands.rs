//! Every command the README shows is run here, so the README cannot drift from the tool.
//!
//! **What counts as a command.** Every line of a fenced ```` ```sh ```` (or `bash`,
//! `shell`) block, with its trailing `# comment` removed (comment-only lines are
//! continuations of the comment above), and every inline code span of the prose that
//! starts with `lutcore ` (a span may wrap over lines; its line breaks are spaces).
//! Output samples (fences without a shell info string) are not commands. Identical
//! commands run once, at their first place.
//!
//! **How they run.** In README order, in one scratch directory, so that a file one
//! command writes (`--out m.gguf`) is there for a later one (`-m m.gguf`): each line
//! through its own `bash -o pipefail -c` (shell variables do not carry over) with the
//! built binary first on `PATH` as `lutcore`, stdin closed, under `timeout` (which
//! ends the whole process group, yosys and compilers included). The scratch directory
//! has `build/vocab` as a symlink to the checkout's vocabulary files
//! (`scripts/fetch_vocab.sh build/vocab`, `make vocab`), where `lutcore model synth`
//! looks by default, and `LUTCORE_VOCAB_DIR` is set to the same directory. Each run
//! prints one summary line: `ran ok`, `started, stopped at budget`, `exempt` or
//! `mention` with the reason, or `FAILED` (the failures and the end of their output
//! are listed at the end).
//!
//! **Treatment**, decided by the explicit tables below and nothing else:
//! - every command is *run* and must exit 0 within [`RUN_LIMIT_S`] (a hang fails);
//! - [`BUDGETS`]: commands that legitimately take minutes (a design-space sweep, the
//!   full GEMV timing matrix) must exit 0 or still be running at their budget (then
//!   they are killed: parsed, validated and started); an early non-zero exit fails;
//! - [`EXEMPT`]: commands that need what no test machine has (an FPGA board, a Slurm
//!   cluster), each with the reason and, where one exists, a stand-in that is run;
//! - [`MENTIONS`]: prose that names a subcommand without the arguments it needs
//!   (`lutcore run loads any such file`); `NAME --help` is run for it, so the name
//!   must exist;
//! - `make …` lines are the front door, listed as exempt: CI runs `make test` (which
//!   runs this test), and `make sim` is `lutcore gen`, `sim` and `sim-model`, all run
//!   here; they would also install system packages first (`make deps`).
//!
//! Placeholders are expanded by [`PLACEHOLDERS`] (plain text substitutions, e.g. the
//! cluster's `/shared/dse` becomes a directory of the scratch directory) and by one
//! rule: `lutcore <command> --help` runs `--help` of every subcommand that
//! `lutcore --help` lists, recursively. Everything else in the README is concrete and
//! can be pasted as it is.
//!
//! So a command added to the README is run without any change here; one that cannot
//! run on a test machine fails until it is put on a list with a reason, and a list
//! entry the README no longer shows fails too (the lists cannot go stale).
//!
//! Cost: the first run compiles eight Verilated models (tiny, default and its MAC and
//! add/sub twins, the traced default, the iCE40 board top, the two configs `regress`
//! draws); they are cached in the target directory's `lutcore-sim/` like every
//! simulation, so later runs (and `make sim` after this test) reuse them. On 2 cores
//! shared with other builds the whole test takes 160-210 s with an empty cache and
//! 40-100 s with a warm one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall-clock limit of a command that is expected to finish (seconds). Generous: the
/// first simulation of a config compiles it with Verilator on a possibly busy machine.
const RUN_LIMIT_S: u64 = 600;

/// Commands that take long by design: `(README text, budget in seconds, why)`. Exit 0
/// before the budget or still running at it passes; a non-zero exit before it fails.
const BUDGETS: &[(&str, u64, &str)] = &[
    ("lutcore dse --quick", 8, "the quick sweep synthesizes ~195 points with yosys (an hour or more on 2 cores)"),
    ("lutcore dse --quick --out build/dse", 8, "the quick sweep (`make dse`): ~195 yosys runs, an hour or more"),
    (
        "lutcore bench gemv --shape 8640x3200 --weights ternary",
        10,
        "times 24 kernel/batch/thread/cold-hot combinations of 15-60 calls each, after measuring DRAM bandwidth",
    ),
];

/// A README command that is not run as written.
struct Exempt {
    /// The command as the README shows it (whitespace-normalized).
    text: &'static str,
    /// Why it cannot run on a test machine.
    why: &'static str,
    /// What runs in its place, if anything.
    stand_in: Option<StandIn>,
}

/// Environment variables set for one run.
type Env = &'static [(&'static str, &'static str)];

/// A command run in place of an exempt one, with a budget (see [`BUDGETS`]).
struct StandIn {
    cmd: &'static str,
    env: Env,
    budget_s: u64,
}

const EXEMPT: &[Exempt] = &[
    Exempt {
        text: "lutcore fpga run --port /dev/ttyUSB1",
        why: "needs an FPGA board on a serial port; `lutcore fpga cosim` (run here) drives the Verilated board top with the same host driver",
        stand_in: None,
    },
    Exempt {
        text: "sbatch --array=0-$((N-1)) --wrap 'lutcore dse --quick --point $SLURM_ARRAY_TASK_ID --out /shared/dse'",
        why: "needs a Slurm cluster; its task 0 runs here in its place",
        stand_in: Some(StandIn {
            cmd: "lutcore dse --quick --point $SLURM_ARRAY_TASK_ID --out /shared/dse",
            env: &[("SLURM_ARRAY_TASK_ID", "0")],
            budget_s: 120,
        }),
    },
];

/// Prose that names a subcommand rather than showing a command line: `(text, why)`.
/// `TEXT --help` runs in its place.
const MENTIONS: &[(&str, &str)] = &[(
    "lutcore run",
    "names the command (\"`lutcore run` loads any such file\"); needs -m FILE",
)];

/// Text substitutions applied before a command runs: `(README text, replacement, why)`.
const PLACEHOLDERS: &[(&str, &str, &str)] = &[(
    "/shared/dse",
    "shared/dse",
    "the cluster's shared file system: a directory of the scratch directory",
)];

/// The `<command>` placeholder: expanded to every subcommand (see [`subcommands`]).
const ANY_COMMAND: &str = "<command>";

/// Where a command came from.
#[derive(Debug)]
struct Found {
    /// README line (1-based) where it starts.
    line: usize,
    /// The command, whitespace-normalized.
    text: String,
    /// From a shell block (`true`) or an inline code span.
    block: bool,
}

/// Collapse runs of whitespace into one space.
fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A shell line without its trailing comment: a `#` at the start or after whitespace,
/// outside quotes.
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double, mut prev_space) = (false, false, true);
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev_space => return &line[..i],
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// Whether a fence's info string marks a shell block.
fn is_shell(info: &str) -> bool {
    matches!(
        info.split_whitespace().next(),
        Some("sh" | "bash" | "shell")
    )
}

/// The commands of the README, in order (see the module doc).
fn extract(readme: &str) -> Vec<Found> {
    let mut found = Vec::new();
    // Inside a fence: Some(shell?). Prose lines are gathered into paragraphs.
    let mut fence: Option<bool> = None;
    let mut paragraph: Vec<(usize, &str)> = Vec::new();
    let mut pending: Option<(usize, String)> = None; // a shell line continued with `\`
    for (i, line) in readme.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            code_spans(&paragraph, &mut found);
            paragraph.clear();
            fence = match fence {
                None => Some(is_shell(info)),
                Some(_) => None,
            };
            continue;
        }
        match fence {
            Some(true) => {
                let code = strip_comment(line).trim_end();
                let (start, mut text) = pending.take().unwrap_or((n, String::new()));
                if let Some(cont) = code.strip_suffix('\\') {
                    text.push_str(cont);
                    text.push(' ');
                    pending = Some((start, text));
                    continue;
                }
                text.push_str(code);
                let text = normalize(&text);
                if !text.is_empty() {
                    found.push(Found {
                        line: start,
                        text,
                        block: true,
                    });
                }
            }
            Some(false) => {}
            None if line.trim().is_empty() => {
                code_spans(&paragraph, &mut found);
                paragraph.clear();
            }
            None => paragraph.push((n, line)),
        }
    }
    code_spans(&paragraph, &mut found);
    found
}

/// The inline code spans of one paragraph that start with `lutcore `. A span opens
/// with a run of backticks and closes with a run of the same length.
fn code_spans(paragraph: &[(usize, &str)], found: &mut Vec<Found>) {
    // The paragraph as one string, with the README line of every byte's line.
    let mut text = String::new();
    let mut starts = Vec::new();
    for (n, l) in paragraph {
        starts.push((text.len(), *n));
        text.push_str(l);
        text.push('\n');
    }
    let line_of = |pos: usize| {
        starts
            .iter()
            .rev()
            .find(|(s, _)| *s <= pos)
            .map_or(0, |(_, n)| *n)
    };
    let b = text.as_bytes();
    let run_at = |pos: usize| b[pos..].iter().take_while(|&&c| c == b'`').count();
    let mut pos = 0;
    while pos < b.len() {
        if b[pos] != b'`' {
            pos += 1;
            continue;
        }
        let open = run_at(pos);
        let body = pos + open;
        let mut end = body;
        let close = loop {
            match b[end..].iter().position(|&c| c == b'`') {
                None => break None,
                Some(off) => {
                    let at = end + off;
                    let len = run_at(at);
                    if len == open {
                        break Some(at);
                    }
                    end = at + len;
                }
            }
        };
        let Some(close) = close else {
            pos = body; // an unmatched run is literal text
            continue;
        };
        let span = normalize(&text[body..close]);
        if span.starts_with("lutcore ") {
            found.push(Found {
                line: line_of(body),
                text: span,
                block: false,
            });
        }
        pos = close + open;
    }
}

/// What happened to one command.
enum Outcome {
    Ok,
    Started,
    Failed(String),
}

/// The scratch directory and the binary.
struct Runner {
    dir: PathBuf,
    path: String,
    vocab: PathBuf,
    logs: PathBuf,
    count: usize,
}

impl Runner {
    /// Run `cmd` with `bash -o pipefail -c` in the scratch directory. With a budget,
    /// still running at it is `Started`; without, running at [`RUN_LIMIT_S`] fails.
    fn run(&mut self, cmd: &str, env: Env, budget: Option<u64>) -> (Outcome, Duration) {
        self.count += 1;
        let log = self.logs.join(format!("{:03}.log", self.count));
        let file = std::fs::File::create(&log).expect("creating a log file");
        let limit = budget.unwrap_or(RUN_LIMIT_S);
        let t = Instant::now();
        let status = Command::new("timeout")
            .args([
                "--kill-after=10",
                &limit.to_string(),
                "bash",
                "-o",
                "pipefail",
                "-c",
                cmd,
            ])
            .current_dir(&self.dir)
            .env("PATH", &self.path)
            .env("LUTCORE_VOCAB_DIR", &self.vocab)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .status()
            .expect("running timeout(1) and bash");
        let wall = t.elapsed();
        let timed_out =
            matches!(status.code(), Some(124 | 137)) && wall >= Duration::from_secs(limit);
        let outcome = if status.success() {
            Outcome::Ok
        } else if timed_out && budget.is_some() {
            Outcome::Started
        } else {
            let what = if timed_out {
                format!("still running after {limit} s")
            } else {
                format!("{status}")
            };
            let out = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = out.lines().rev().take(25).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Outcome::Failed(format!(
                "{what}; last lines of its output:\n    {}",
                tail.join("\n    ")
            ))
        };
        (outcome, wall)
    }
}

/// The subcommand paths under `prefix` (e.g. `["gen"]`, `["model", "synth"]`), from the
/// "Commands:" sections of `--help`, recursively; `help` itself is left out.
fn subcommands(bin: &str, prefix: &[String]) -> Vec<Vec<String>> {
    let out = Command::new(bin)
        .args(prefix)
        .arg("--help")
        .output()
        .expect("running lutcore --help");
    assert!(
        out.status.success(),
        "lutcore {} --help failed: {:?}",
        prefix.join(" "),
        out.status
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let names: Vec<String> = text
        .lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|n| n != "help")
        .collect();
    let mut all = Vec::new();
    for n in names {
        let mut path = prefix.to_vec();
        path.push(n);
        all.push(path.clone());
        all.extend(subcommands(bin, &path));
    }
    all
}

fn apply_placeholders(cmd: &str) -> String {
    PLACEHOLDERS
        .iter()
        .fold(cmd.to_string(), |c, (from, to, _)| c.replace(from, to))
}

#[test]
fn every_readme_command_runs() {
    let t0 = Instant::now();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = env!("CARGO_BIN_EXE_lutcore");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("reading README.md");
    let found = extract(&readme);
    assert!(
        found.iter().any(|f| f.block) && found.iter().any(|f| !f.block),
        "no commands found in README.md: {found:?}"
    );

    // The lists may name only what the README shows.
    let shown = |t: &str| found.iter().any(|f| f.text == t);
    let mut stale: Vec<&str> = Vec::new();
    stale.extend(BUDGETS.iter().map(|b| b.0).filter(|t| !shown(t)));
    stale.extend(EXEMPT.iter().map(|e| e.text).filter(|t| !shown(t)));
    stale.extend(MENTIONS.iter().map(|m| m.0).filter(|t| !shown(t)));
    stale.extend(
        PLACEHOLDERS
            .iter()
            .map(|p| p.0)
            .filter(|p| !found.iter().any(|f| f.text.contains(p))),
    );
    assert!(
        stale.is_empty(),
        "entries of this test's lists that README.md no longer shows (remove them): {stale:#?}"
    );
    for e in EXEMPT {
        if let Some(s) = &e.stand_in {
            assert!(
                e.text.contains(s.cmd),
                "the stand-in `{}` is not part of the exempt command `{}`",
                s.cmd,
                e.text
            );
        }
    }

    // The vocabulary files that `lutcore model synth` copies the tokenizer from.
    let vocab = std::env::var_os("LUTCORE_VOCAB_DIR")
        .map_or_else(|| root.join("build/vocab"), PathBuf::from);
    assert!(
        vocab.join("ggml-vocab-llama-spm.gguf").is_file() && vocab.join("ggml-vocab-llama-bpe.gguf").is_file(),
        "no vocabulary files in {}: run `scripts/fetch_vocab.sh build/vocab` (the Makefile does before `cargo test`), \
         or set LUTCORE_VOCAB_DIR to a directory holding them",
        vocab.display()
    );

    let scratch = tempfile::Builder::new()
        .prefix("lutcore-readme-")
        .tempdir()
        .expect("creating a scratch directory");
    let dir = scratch.path().join("work");
    let bindir = scratch.path().join("bin");
    let logs = scratch.path().join("logs");
    for d in [&dir, &bindir, &logs, &dir.join("build")] {
        std::fs::create_dir_all(d).expect("creating scratch directories");
    }
    std::os::unix::fs::symlink(bin, bindir.join("lutcore")).expect("linking the binary");
    std::os::unix::fs::symlink(&vocab, dir.join("build/vocab")).expect("linking build/vocab");
    let path = format!(
        "{}:{}",
        bindir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut runner = Runner {
        dir,
        path,
        vocab,
        logs,
        count: 0,
    };

    let mut failures: Vec<String> = Vec::new();
    let mut seen: Vec<(&str, usize)> = Vec::new();
    let report = |line: usize, shown: &str, verdict: &str| {
        println!("README:{line:<4} {verdict:<36} {shown}")
    };
    for f in &found {
        let text = f.text.as_str();
        if let Some((_, first)) = seen.iter().find(|(t, _)| *t == text) {
            report(f.line, text, &format!("same as line {first}"));
            continue;
        }
        seen.push((text, f.line));
        // Ran (or not) as what, with which budget and environment.
        let mut runs: Vec<(String, Env, Option<u64>)> = Vec::new();
        if text.starts_with("make ") || text == "make" {
            report(f.line, text, "exempt: front door (CI runs make test)");
        } else if let Some(e) = EXEMPT.iter().find(|e| e.text == text) {
            report(f.line, &format!("{text}  -- {}", e.why), "exempt");
            if let Some(s) = &e.stand_in {
                runs.push((s.cmd.to_string(), s.env, Some(s.budget_s)));
            }
        } else if let Some((_, why)) = MENTIONS.iter().find(|m| m.0 == text) {
            report(f.line, &format!("{text}  -- {why}"), "mention: runs --help");
            runs.push((format!("{text} --help"), &[], None));
        } else if text.contains(ANY_COMMAND) {
            report(f.line, text, "placeholder: every subcommand");
            for sub in subcommands(bin, &[]) {
                runs.push((text.replace(ANY_COMMAND, &sub.join(" ")), &[], None));
            }
        } else {
            let budget = BUDGETS.iter().find(|b| b.0 == text).map(|b| b.1);
            runs.push((text.to_string(), &[], budget));
        }
        for (cmd, env, budget) in runs {
            let cmd = apply_placeholders(&cmd);
            let (outcome, wall) = runner.run(&cmd, env, budget);
            let secs = wall.as_secs_f64();
            let env_note = env
                .iter()
                .map(|(k, v)| format!("{k}={v} "))
                .collect::<String>();
            let shown = if cmd == text {
                cmd.clone()
            } else {
                format!("(as) {env_note}{cmd}")
            };
            match outcome {
                Outcome::Ok => report(f.line, &shown, &format!("ran ok ({secs:.1} s)")),
                Outcome::Started => report(
                    f.line,
                    &shown,
                    &format!("started, stopped at budget ({secs:.0} s)"),
                ),
                Outcome::Failed(why) => {
                    report(f.line, &shown, &format!("FAILED ({secs:.1} s)"));
                    failures.push(format!("README.md:{}: `{env_note}{cmd}`: {why}", f.line));
                }
            }
        }
    }
    println!(
        "{} commands in README.md, {} runs, {:.1} s",
        found.len(),
        runner.count,
        t0.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} README command(s) failed. Fix the README (or the tool), or, for a command that cannot run on a test \
         machine, add it to EXEMPT or BUDGETS in tests/readme_commands.rs with the reason:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The extraction rules on a small README.
#[test]
fn extraction_rules() {
    let readme = "\
Prose with `lutcore sim --trace g.fst` and `make sim`, a span over
two lines: `lutcore bench gemv --shape 8x8
--weights ternary`, a ``double `lutcore` span`` and `lutcore x`.

```sh
make test   # front door
            # a comment continued
lutcore run -p \"a # b\" -n 1   # the comment goes
echo 'x#y' > f \\
  && lutcore gen --list-presets
```

```
lutcore output sample, not a command
```
";
    let found: Vec<(usize, String, bool)> = extract(readme)
        .into_iter()
        .map(|f| (f.line, f.text, f.block))
        .collect();
    let want = [
        (1, "lutcore sim --trace g.fst", false),
        (2, "lutcore bench gemv --shape 8x8 --weights ternary", false),
        (3, "lutcore x", false),
        (6, "make test", true),
        (8, "lutcore run -p \"a # b\" -n 1", true),
        (9, "echo 'x#y' > f && lutcore gen --list-presets", true),
    ];
    let want: Vec<(usize, String, bool)> = want
        .iter()
        .map(|(l, t, b)| (*l, t.to_string(), *b))
        .collect();
    assert_eq!(found, want);
}
