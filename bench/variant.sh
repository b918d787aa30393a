#!/usr/bin/env bash
# Build a design variant of wsdissect to measure side by side with the real one, without
# committing it: the patch's "Base: COMMIT" line names the commit it applies to, so a variant
# measured once can be built again exactly as it was. Prints the binary's path.
#   bench/variant.sh bench/variants/shared-budget.patch            # -> /tmp/wsdissect-shared-budget
#   bench/compare.py 31 "$(git rev-parse --show-toplevel)/target/release/wsdissect -j 2 --format json X" \
#                       "/tmp/wsdissect-shared-budget -j 2 --format json X"
# The base commit's own binary, for a fair pair, is BASE=1 bench/variant.sh PATCH.
# The variants measured so far are in bench/variants/, each with why it was not kept.
set -euo pipefail
cd "$(dirname "$0")/.."
patch=$(realpath "${1:?usage: bench/variant.sh PATCH}")
name=$(basename "$patch" .patch)
base=$(sed -n 's/^Base: *\([0-9a-f]\{7,40\}\)$/\1/p' "$patch" | head -n1)
[ -n "$base" ] || { echo "$patch has no 'Base: COMMIT' line" >&2; exit 1; }
tree=$(mktemp -d)
trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || rm -rf "$tree"' EXIT
git worktree add --quiet --detach "$tree" "$base"
if [ "${BASE:-0}" = 1 ]; then
  name=base-$base
else
  git -C "$tree" apply "$patch"
fi
# One target directory for every variant: the dependencies are built once.
CARGO_TARGET_DIR=$PWD/target/variants cargo build --release --quiet --manifest-path "$tree/Cargo.toml"
out=${OUT:-/tmp/wsdissect-$name}
cp target/variants/release/wsdissect "$out"
echo "$out"
