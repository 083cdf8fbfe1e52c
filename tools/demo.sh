#!/usr/bin/env bash
# The main job on one machine: builds vaxetl, generates a realistic NCVR file of
# VAXETL_DEMO_RECORDS records (default 100000) and loads it with pipelines/ncvr-daily.yaml into
# the embedded SQLite CVMS store under $VAXETL_HOME (default ./var). Prints the counts and the
# path of the error file returned to the provider.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=$(tools/build.sh | tail -n 1)
export VAXETL_HOME="${VAXETL_HOME:-$PWD/var}"
mkdir -p "$VAXETL_HOME/inbox"
records="${VAXETL_DEMO_RECORDS:-100000}"
# A production file (named per nc-rules.md, which routes it) whose race and ethnicity data
# meet the gate; the truth sidecar goes beside the inbox, never into it.
input=$("$build_dir/bin/ncvr_gen" --records "$records" --seed "${VAXETL_DEMO_SEED:-1}" \
          --race-unknown-rate 0.01 --race-declined-rate 0.01 \
          --truth "$VAXETL_HOME/last-demo.truth.tsv" \
          --output "$VAXETL_HOME/inbox/" | sed -n 's/.*-> \(.*\.txt\) (truth.*/\1/p')
echo "generated $records records: $input"
"$build_dir/bin/vaxetl" run pipelines/ncvr-daily.yaml --input "$input"
echo "CVMS store: $VAXETL_HOME/cvms.sqlite   recent runs: $build_dir/bin/vaxetl runs   providers: $build_dir/bin/vaxetl providers"
