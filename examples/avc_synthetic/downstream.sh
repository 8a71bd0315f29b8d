#!/usr/bin/env bash
# The downstream protocol of Cramer et al. (kaudio downstream) on the held-out labelled sounds, for the
# embedding an AVC run learnt, the same network with random weights, and the log-mel baseline — with the
# kaudio command line only:
#
#   1. kaudio avc export RUN --keras-out OUT/tower.keras    the run's audio embedding as a .keras model
#      (the embedding conv before the tower's final BN/ReLU, max-pooled: 128-d for avc_small);
#   2. kaudio downstream SOUNDS --model OUT/tower.keras     -> OUT/trained.json
#      ... --weights none                                   -> OUT/random.json (the same network, seed 0)
#      kaudio downstream SOUNDS --model logmel              -> OUT/logmel.json
#   3. kaudio downstream compare A.json B.json for the three pairs (Wilcoxon signed-rank test over the
#      folds)                                               -> OUT/comparison.md
#
# Usage: examples/avc_synthetic/downstream.sh RUN SOUNDS OUT [kaudio downstream options, e.g. --grid quick]
# Finished reports, the exported tower and the cached features (OUT/*.features) are reused when run again;
# delete OUT/tower.keras (and the reports and caches made with it) to evaluate another run.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 RUN SOUNDS OUT [kaudio downstream options]" >&2
    exit 2
fi
run=$1 sounds=$2 out=$3
shift 3
mkdir -p "$out"
tower="$out/tower.keras"
[ -f "$tower" ] || kaudio avc export "$run" --keras-out "$tower"
for name in trained random logmel; do
    case $name in
        trained) features=(--model "$tower") ;;
        random) features=(--model "$tower" --weights none) ;;
        logmel) features=(--model logmel) ;;
    esac
    if [ ! -f "$out/$name.json" ]; then
        echo "downstream: $name"
        kaudio downstream "$sounds" --out "$out/$name.json" "${features[@]}" "$@"
    fi
done
for pair in "trained random" "trained logmel" "random logmel"; do
    read -r a b <<<"$pair"
    printf '## %s vs %s\n\n```\n' "$a" "$b"
    kaudio downstream compare "$out/$a.json" "$out/$b.json"
    printf '```\n\n'
done > "$out/comparison.md"
cat "$out/comparison.md"
