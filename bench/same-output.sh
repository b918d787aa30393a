#!/usr/bin/env bash
# Whole outputs of two wsdissect binaries compared, byte for byte and exit code, on every
# sample and on the bench captures, in every view and at several widths: for refactors that
# must not change what is printed (the snapshot tests cover one width and no colour).
#   bench/same-output.sh OLD_BINARY NEW_BINARY
# Prints each difference (the command that shows it) and exits 1 if there was any.
set -uo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: bench/same-output.sh OLD_BINARY NEW_BINARY}
new=${2:?usage: bench/same-output.sh OLD_BINARY NEW_BINARY}
views=(
  "" "--format json" "--format table" "--format conversation" "-v" "-v --diagram"
  "--color always" "--color always -v" "--color always --format conversation"
  "--full-payload" "--pretty-json" "--max-payload 8" "--diagnostics" "--dir c2s --opcode text"
)
widths=(80 40 132)
captures=$(find samples -name '*.pcap' -o -name '*.pcapng' | grep -v node_modules | sort)
for c in bench/data/small-messages-10mb.pcap bench/data/deflate.pcap; do
  [ -s "$c" ] && captures+=$'\n'"$c"
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() { # BINARY CAPTURE COLUMNS VIEW...: output and exit code
  local bin=$1 cap=$2 cols=$3
  shift 3
  local keys=()
  [ -s "${cap%.*}.keys" ] && keys=(--tls-keylog "${cap%.*}.keys")
  # The bench captures are cut short: the whole deflate capture takes long in -v.
  case $cap in bench/*) keys+=(--packets 3000) ;; esac
  # shellcheck disable=SC2068 # the view's words are meant to split
  COLUMNS=$cols timeout 300 "$bin" ${keys[@]} $@ "$cap" 2>&1
  echo "exit $?"
}
diffs=0 runs=0
while IFS= read -r cap; do
  for view in "${views[@]}"; do
    for cols in "${widths[@]}"; do
      # shellcheck disable=SC2086
      run "$old" "$cap" "$cols" $view >"$out/old"
      # shellcheck disable=SC2086
      run "$new" "$cap" "$cols" $view >"$out/new"
      runs=$((runs + 1))
      if ! cmp -s "$out/old" "$out/new"; then
        diffs=$((diffs + 1))
        echo "differs: COLUMNS=$cols wsdissect $view $cap"
      fi
    done
  done
done <<<"$captures"
echo "$runs runs, $diffs differ"
[ "$diffs" -eq 0 ]
