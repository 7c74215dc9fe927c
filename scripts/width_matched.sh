#!/usr/bin/env bash
# Width-matched check (issue 12): paper-width codecs (1.0) and networks at width 1.0,
# fashion-scenes:small at 64², the small preset's classifier recipe, seed 0.
# Run from the repository root: bash scripts/width_matched.sh (about 32 min on 2 cores per
# operating point, and 8 min for original RGB). OPS="0.0983 0.330 0.635" picks the operating
# points (default 0.330); RGB=0 skips the original-RGB run, which no codec changes.
set -euo pipefail
export NODECODE_CACHE="$(realpath -m "${NODECODE_CACHE:-runs/cache}")" OMP_NUM_THREADS=2
N="$(realpath "${NODECODE:-.venv/bin/nodecode}")"
mkdir -p "${OUT:-runs/matched}" && cd "${OUT:-runs/matched}"
$N data build --preset small
# The paper's lr (0.025, the default): 0.2, the small preset's width-0.125 value, left the
# first width-1.0 cResNet-51 at chance after one epoch (val 10.2 %), so it was stopped.
common="--width 1.0 --epochs 4 --schedule cosine --val-fraction 0.1 --seed 0 --resume"
for op in ${OPS:-0.330}; do
    [ -d "lat-$op" ] || $N encode-dataset --codec "paper-$op" --data fashion-scenes:small \
        --task classification -o "lat-$op"
    $N train-classifier --model cresnet51 --latents "lat-$op" $common -o "cls-cresnet51-latent-$op"
    $N train-classifier --model resnet50 --input decoded --latents "lat-$op" $common \
        -o "cls-resnet50-decoded-$op"
done
if [ "${RGB:-1}" = 1 ]; then
    $N train-classifier --model resnet50 --input rgb --data fashion-scenes:small $common -o cls-resnet50-rgb
fi
