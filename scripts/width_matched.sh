#!/usr/bin/env bash
# Width-matched spot check (issue 12): paper-width codec (1.0) and networks at width 1.0,
# fashion-scenes:small at 64², the small preset's classifier recipe, seed 0, 0.330 only.
set -euo pipefail
# Run from the repository root: bash scripts/width_matched.sh (about 32 min on 2 cores).
export NODECODE_CACHE="$(realpath -m "${NODECODE_CACHE:-runs/cache}")" OMP_NUM_THREADS=2
N="$(realpath "${NODECODE:-.venv/bin/nodecode}")"
mkdir -p "${OUT:-runs/matched}" && cd "${OUT:-runs/matched}"
$N data build --preset small
[ -d lat-0.330 ] || $N encode-dataset --codec paper-0.330 --data fashion-scenes:small --task classification -o lat-0.330
# The paper's lr (0.025, the default): 0.2, the small preset's width-0.125 value, left the
# first width-1.0 cResNet-51 at chance after one epoch (val 10.2 %), so it was stopped.
common="--width 1.0 --epochs 4 --schedule cosine --val-fraction 0.1 --seed 0 --resume"
$N train-classifier --model cresnet51 --latents lat-0.330 $common -o cls-cresnet51-latent
$N train-classifier --model resnet50 --input decoded --latents lat-0.330 $common -o cls-resnet50-decoded
$N train-classifier --model resnet50 --input rgb --data fashion-scenes:small $common -o cls-resnet50-rgb
