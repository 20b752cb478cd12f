#!/usr/bin/env bash
# GraphEraser on Cora is run together with CGE and Retrain (same split and request):
#   bash benchmarks/cge/run.sh   (algorithms retrain,cge,cge-warm,grapheraser; 14 nodes; seeds 0,1,2)
# This script: partition quality/time on a synthetic 169,343-node / ~1.2M-edge planted-community
# graph, one process per partitioner with a time limit, for 40 and for 400 planted communities.
# Writes results/partition_<method>.json (40) and results/partition400_<method>.json (400).
set -uo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
OUT=${OUT:-benchmarks/graph_eraser/results}
LIMIT=${LIMIT:-900}
mkdir -p "$OUT"
for C in 40 400; do
  TAG=partition; [ "$C" = 400 ] && TAG=partition400
  for M in random blpa bekm community community_torch community_igraph; do
    R=3; case $M in community_torch|community_igraph) R=1;; esac
    echo "== $C communities, $M, load: $(cut -d' ' -f1-3 /proc/loadavg)"
    timeout "$LIMIT" .venv/bin/python benchmarks/graph_eraser/partition_bench.py \
      --communities "$C" --methods "$M" --repeats "$R" --out "$OUT/${TAG}_$M.json" \
      || echo "$M: failed or timed out after ${LIMIT}s"
  done
done
