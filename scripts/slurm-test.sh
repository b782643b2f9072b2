#!/usr/bin/env bash
# The cluster path of `lutcore regress` and `lutcore dse`, against a real Slurm on this machine.
#
# Installs Debian's slurmctld, slurmd, slurm-client and munge (scripts/deps.sh, pinned
# below), starts munged, slurmctld and slurmd in the foreground with private paths and
# ports under a temporary directory (nothing in /etc is touched), then submits
#   * a regression of REGRESS_CASES cases as a job array (REGRESS_PER_TASK cases per task, --case A-B --out),
#   * a tiny DSE sweep (the 5 smallest ASIC-proxy points) as a job array (--point),
# waits for both, merges them (`regress --report`, `dse --report`) and checks the merged
# results against a local run of the same cases and points. The daemons are stopped
# on exit (trap), whatever happens.
#
# usage: scripts/slurm-test.sh [path/to/lutcore]       (make slurm-test builds it first)
# env:   REGRESS_CASES (default 40), REGRESS_PER_TASK (2), REGRESS_SEED (60), REGRESS_CONFIGS (8), KEEP=1 keeps the temp dir
# Needs root (or sudo for the install; the daemons run as root and munge).
set -euo pipefail

SLURM_VERSION=${SLURM_VERSION:-22.05.8-4+deb12u3}
MUNGE_VERSION=${MUNGE_VERSION:-0.5.15-2+deb12u1}
CASES=${REGRESS_CASES:-40}
PER_TASK=${REGRESS_PER_TASK:-2}
SEED=${REGRESS_SEED:-60}
CONFIGS=${REGRESS_CONFIGS:-8}
# The smallest points of the quick ASIC-proxy sweep (4 rows x 4 activations: LUT, MAC, add/sub).
DSE_ARGS=(--quick --targets asic)
DSE_POINTS=(17 18 19 20 21)

here=$(cd "$(dirname "$0")/.." && pwd)
LUTCORE=$(realpath "${1:-$here/target/release/lutcore}")
[ -x "$LUTCORE" ] || { echo "slurm-test: $LUTCORE not found; run make build first" >&2; exit 1; }
start=$(date +%s)
say() { echo "slurm-test [$(( $(date +%s) - start ))s] $*"; }
fail() { echo "slurm-test: FAILED: $*" >&2; exit 1; }

"$here/scripts/deps.sh" slurmctld="$SLURM_VERSION" slurmd="$SLURM_VERSION" slurm-client="$SLURM_VERSION" munge="$MUNGE_VERSION"
[ "$(id -u)" -eq 0 ] || fail "the Slurm daemons are started as root (SlurmUser=root); run as root"

T=$(mktemp -d /tmp/lutcore-slurm.XXXXXX)
chmod 755 "$T"
pids=()
cleanup() {
  local rc=$?
  # Stop the daemons we started, by their PIDs, newest first.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[$i]}" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ]; then
    for log in "$T"/slurmctld.log "$T"/slurmd.log "$T"/munge/munged.log "$T"/*.out; do
      [ -f "$log" ] && { echo "--- tail of $log" >&2; tail -n 15 "$log" >&2; }
    done
  fi
  if [ -n "${KEEP:-}" ]; then echo "slurm-test: kept $T"; else rm -rf "$T"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free TCP ports for slurmctld and slurmd (another Slurm on this machine keeps its own).
read -r CTLD_PORT SLURMD_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')

# munge: a private key, socket and log, owned by the munge user.
mkdir -p "$T/munge"
head -c 1024 /dev/urandom >"$T/munge/munge.key"
chown -R munge:munge "$T/munge"
chmod 700 "$T/munge"
chmod 400 "$T/munge/munge.key"
runuser -u munge -- munged --foreground --force \
  --key-file="$T/munge/munge.key" --socket="$T/munge/munge.socket" \
  --pid-file="$T/munge/munged.pid" --log-file="$T/munge/munged.log" --seed-file="$T/munge/munged.seed" >"$T/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$T/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$T/munge/munge.socket" ] || fail "munged did not start"
chmod 755 "$T/munge"

host=$(hostname -s)
cpus=$(nproc)
mkdir -p "$T/state" "$T/spool" "$T/logs"
cat >"$T/slurm.conf" <<EOF
ClusterName=lutcore-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=lutcore Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$T/slurm.conf
slurmctld -D -f "$SLURM_CONF" >"$T/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$T/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 60); do
  state=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
  case "$state" in idle*|mix*|alloc*) break ;; esac
  sleep 0.5
done
[ "$state" = idle ] || fail "node $host not idle after 30 s (sinfo: '$state')"
say "slurm $(sinfo -V | cut -d' ' -f2) up: node $host, $cpus CPUs, ports $CTLD_PORT/$SLURMD_PORT"

# The two job arrays. One CPU per task; tasks share --out and the model cache of the build.
reg_cmd="$LUTCORE regress --seed $SEED --configs $CONFIGS"
tasks=$(( (CASES + PER_TASK - 1) / PER_TASK ))
reg_job=$(sbatch --parsable --job-name=regress --array=0-$((tasks - 1)) --chdir="$here" --output="$T/logs/regress-%a.log" \
  --wrap "i=\$((SLURM_ARRAY_TASK_ID * $PER_TASK)); j=\$((i + $PER_TASK - 1)); [ \$j -lt $CASES ] || j=$((CASES - 1)); $reg_cmd --jobs 1 --case \$i-\$j --out $T/regress")
dse_job=$(sbatch --parsable --job-name=dse --array="$(IFS=,; echo "${DSE_POINTS[*]}")" --chdir="$here" --output="$T/logs/dse-%a.log" \
  --wrap "$LUTCORE dse ${DSE_ARGS[*]} --point \$SLURM_ARRAY_TASK_ID --out $T/dse")
say "submitted regress array $reg_job ($tasks tasks of $PER_TASK cases) and dse array $dse_job (${DSE_POINTS[*]})"

# Wait until both arrays have left the queue (10 min at most).
for _ in $(seq 1200); do
  [ -z "$(squeue -h -j "$reg_job,$dse_job" -o %i 2>/dev/null)" ] && break
  sleep 0.5
done
[ -z "$(squeue -h -j "$reg_job,$dse_job" -o %i)" ] || fail "job arrays still queued after 10 minutes"
say "both arrays done"

# Merge, and the same cases and points locally.
"$LUTCORE" regress --seed "$SEED" --configs "$CONFIGS" -n "$CASES" --report "$T/regress" --json "$T/slurm-regress.json" --junit "$T/slurm-junit.xml" \
  || fail "merged regression failed or incomplete (task logs: $T/logs)"
"$LUTCORE" regress --seed "$SEED" --configs "$CONFIGS" -n "$CASES" --jobs "$cpus" --json "$T/local-regress.json" >"$T/local-regress.txt" \
  || fail "local regression failed"
"$LUTCORE" dse "${DSE_ARGS[@]}" --report --out "$T/dse" >/dev/null || fail "dse --report failed"
for p in "${DSE_POINTS[@]}"; do
  "$LUTCORE" dse "${DSE_ARGS[@]}" --point "$p" --out "$T/dse-local" >/dev/null || fail "local dse point $p failed"
done
"$LUTCORE" dse "${DSE_ARGS[@]}" --report --out "$T/dse-local" >/dev/null || fail "local dse --report failed"

python3 - "$T" "$CASES" "${#DSE_POINTS[@]}" <<'EOF'
import csv, json, sys
t, cases, points = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def cases_of(path):
    return {r["spec"]["index"]: (r["slug"], r["spec"], r["inputs_sha256"], r["backends"], r["failures"], r["rtl_cycles"])
            for r in json.load(open(path))["results"]}
slurm, local = cases_of(f"{t}/slurm-regress.json"), cases_of(f"{t}/local-regress.json")
assert sorted(slurm) == list(range(cases)), f"slurm has cases {sorted(slurm)}"
assert slurm == local, [i for i in local if slurm.get(i) != local[i]]
junit = open(f"{t}/slurm-junit.xml").read()
assert junit.count("<testcase ") == cases, "one JUnit testcase per case"
def rows_of(path):
    keep = ("id", "lut4", "carry", "ff", "dsp", "lut4_eq", "transistors", "area", "status")
    return {r["id"]: tuple(r[k] for k in keep) for r in csv.DictReader(open(path))}
s, l = rows_of(f"{t}/dse/results.csv"), rows_of(f"{t}/dse-local/results.csv")
assert len(s) == points and s == l, (s, l)
assert all(r[-1] == "ok" for r in s.values())
print(f"slurm-test: {cases} regression cases (inputs, backends, results, cycles) and {points} DSE points (cells, area) "
      "from the job arrays equal the local run")
EOF
say "PASS"
