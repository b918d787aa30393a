#!/usr/bin/env bash
# The project's one test command (README.md; .ci/run calls it). As root on Debian it installs
# what the tests need (apt packages; a Python virtual environment with `websockets` for the
# live tests), then: format check, clippy, all tests. The tests that need more than cargo
# (live capture, tshark, GNU time, Chromium, DuckDB) are #[ignore]d in the code; they run here, group by group,
# when their prerequisite is there, and are reported as skipped when it is not. Under CI=true a
# skipped group fails the run. The last lines say what ran and what was skipped, and why.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
ci=false
case ${CI:-} in true | 1) ci=true ;; esac
root=false
[ "$(id -u)" = 0 ] && root=true
if $root; then as_root=""; elif command -v sudo >/dev/null; then as_root="sudo "; else as_root="as root: "; fi

# --- What the tests need --------------------------------------------------------------------
need=()
[ -e /usr/include/pcap.h ] || need+=(libpcap-dev)        # to build at all
command -v tshark >/dev/null || need+=(tshark)             # group "tshark"
command -v chromium >/dev/null || need+=(chromium chromium-driver) # group "browser"
[ -x /usr/bin/time ] || need+=(time)                       # group "memory": GNU time
command -v openssl >/dev/null || need+=(openssl)           # group "live": the wss certificate
command -v tcpdump >/dev/null || need+=(tcpdump)
# tests/live/peer.py needs websockets >= 13 (websockets.asyncio). Debian 12's python3-websockets
# is 10.4, so it goes into a virtual environment; Debian's python3 needs python3-venv for that.
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  if $root; then
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]}; install them with: ${as_root}apt-get install -y ${need[*]}" >&2
  fi
fi
if [ ! -e /usr/include/pcap.h ]; then
  echo "libpcap-dev is needed to build: ${as_root}apt-get install -y libpcap-dev" >&2
  exit 2
fi

venv=target/py-venv
py=$PWD/$venv/bin/python
py_ok() { [ -x "$py" ] && "$py" -c 'import websockets.asyncio.server' 2>/dev/null; }
if ! { py_ok && cmp -s tests/live/requirements.txt "$venv/requirements.txt"; }; then
  rm -rf "$venv"
  if python3 -m venv "$venv" >/dev/null &&
    "$venv/bin/pip" install -q -r tests/live/requirements.txt; then
    cp tests/live/requirements.txt "$venv/requirements.txt"
  else
    echo "note: could not make $venv with tests/live/requirements.txt" >&2
  fi
fi

# UPDATE_DOCS makes the docs tests rewrite the generated files instead of checking them.
if [ -n "${UPDATE_DOCS:-}" ]; then
  echo "note: UPDATE_DOCS is set; unset here so that the docs tests check" >&2
  unset UPDATE_DOCS
fi

# --- The groups of #[ignore]d tests: name, test-name filter, why it cannot run (empty: it can)
live_missing() {
  if ! $root; then echo "live capture needs root (uid $(id -u))"; return; fi
  [ -e /sys/class/net/lo ] || { echo "no loopback interface lo"; return; }
  command -v openssl >/dev/null || { echo "openssl not installed"; return; }
  py_ok || echo "no Python with websockets >= 13 ($venv could not be made)"
}
tshark_missing() { command -v tshark >/dev/null || echo "tshark not installed (${as_root}apt-get install -y tshark)"; }
memory_missing() { [ -x /usr/bin/time ] || echo "GNU time not installed (${as_root}apt-get install -y time)"; }
# The HTML report in headless Chromium, driven over CDP by tests/browser/report.py (venv Python).
browser_missing() {
  command -v chromium >/dev/null || { echo "chromium not installed (${as_root}apt-get install -y chromium chromium-driver)"; return; }
  py_ok || echo "no Python with websockets >= 13 ($venv could not be made)"
}
# --format parquet read back by DuckDB (tests/parquet/compare.py, venv Python with duckdb).
parquet_missing() {
  [ -x "$py" ] && "$py" -c 'import duckdb' 2>/dev/null ||
    echo "no Python with duckdb ($venv could not be made with tests/live/requirements.txt)"
}
groups=(live tshark memory browser parquet)
declare -A filter=([live]="live::" [tshark]="tshark" [memory]="cli::memory_" [browser]="report::browser_" [parquet]="parquet::duckdb_")
declare -A title=([live]="live capture" [tshark]="tshark comparison" [memory]="memory bounds (GNU time)" [browser]="HTML report in Chromium" [parquet]="parquet read by DuckDB")

# --- Run ------------------------------------------------------------------------------------
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# "test result: ok. 5 passed; 0 failed; 2 ignored; ..." lines, summed: "passed failed ignored"
counts() { sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' "$1" |
  awk '{ p += $1; f += $2; i += $3 } END { print p + 0, f + 0, i + 0 }'; }

status=0
cargo test --quiet 2>&1 | tee "$log" || status=1
read -r suite_passed suite_failed suite_ignored < <(counts "$log")

# Every #[ignore]d test, and the group it belongs to.
mapfile -t ignored < <(cargo test --quiet --tests -- --list --ignored 2>/dev/null | sed -n 's/: test$//p')
declare -A expected=()
ungrouped=()
for t in "${ignored[@]}"; do
  g=""
  for name in "${groups[@]}"; do
    if [[ $t == *"${filter[$name]}"* ]]; then g=$name; break; fi
  done
  if [ -n "$g" ]; then expected[$g]=$((${expected[$g]:-0} + 1)); else ungrouped+=("$t"); fi
done

declare -A result=()
skipped=0
for name in "${groups[@]}"; do
  n=${expected[$name]:-0}
  [ "$n" -gt 0 ] || continue
  why=$("${name}_missing")
  if [ -n "$why" ]; then
    result[$name]="SKIPPED ($n tests): $why"
    skipped=$((skipped + n))
    continue
  fi
  echo "== ${title[$name]}: cargo test --tests -- --ignored ${filter[$name]}"
  rc=0
  WSDISSECT_PYTHON=$py cargo test --quiet --tests -- --ignored "${filter[$name]}" 2>&1 | tee "$log" || rc=1
  read -r p f _ < <(counts "$log")
  if [ $rc != 0 ] || [ "$p" != "$n" ]; then
    status=1
    result[$name]="FAILED: $p of $n passed, $f failed"
  else
    result[$name]="ran: $p passed"
  fi
done

# --- Accounting -----------------------------------------------------------------------------
echo
echo "== test accounting"
printf '  %-26s %s passed, %s failed, %s ignored (run below by group)\n' \
  "cargo test" "$suite_passed" "$suite_failed" "$suite_ignored"
for name in "${groups[@]}"; do
  if [ -n "${result[$name]:-}" ]; then printf '  %-26s %s\n' "${title[$name]}" "${result[$name]}"; fi
done
for t in "${ungrouped[@]}"; do
  printf '  %-26s %s\n' "SKIPPED (no group)" "$t: #[ignore]d but not in a group of scripts/test.sh"
  skipped=$((skipped + 1))
done
if [ $skipped -gt 0 ]; then
  if $ci; then
    echo "  $skipped tests skipped: CI=true requires every test to run" >&2
    status=1
  else
    echo "  $skipped tests skipped (under CI=true this fails)"
  fi
fi
if [ $status = 0 ]; then echo "  ok"; else echo "  FAILED" >&2; fi
exit $status
