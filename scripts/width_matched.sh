#!/usr/bin/env bash
# Width-matched check (issue 12): paper-width codecs (1.0) and networks at width 1.0,
# fashion-scenes:small at 64², the small preset's classifier recipe, seed 0.
# Run from the repository root: bash scripts/width_matched.sh (about 32 min on 2 cores per
# operating point, and 8 min for original RGB). OPS="0.0983 0.330 0.635" picks the operating
# points (default 0.330); RGB=0 skips the original-RGB run, which no codec changes. SEG=1 also
# trains width-1.0 segmenters (cResNet-51-d on latents, ResNet-50-d on decoded images) from
# those classifiers, one recipe for both: the paper's lr (1e-3, ASPP 10×), warm-up + cosine,
# 400 iterations of batch 16 (about 30 min each here, beside another run).
set -euo pipefail
export NODECODE_CACHE="$(realpath -m "${NODECODE_CACHE:-runs/cache}")" OMP_NUM_THREADS=2
N="$(realpath "${NODECODE:-.venv/bin/nodecode}")"
mkdir -p "${OUT:-runs/matched}" && cd "${OUT:-runs/matched}"
$N data build --preset small
# The paper's lr (0.025, the default): 0.2, the small preset's width-0.125 value, left the
# first width-1.0 cResNet-51 at chance after one epoch (val 10.2 %), so it was stopped.
encoded() { compgen -G "lat-$1/$2-test-*.safetensors" > /dev/null; }  # OP TASK
common="--width 1.0 --epochs 4 --schedule cosine --val-fraction 0.1 --seed 0 --resume"
for op in ${OPS:-0.330}; do
    encoded "$op" classification || $N encode-dataset --codec "paper-$op" \
        --data fashion-scenes:small --task classification -o "lat-$op"
    $N train-classifier --model cresnet51 --latents "lat-$op" $common -o "cls-cresnet51-latent-$op"
    $N train-classifier --model resnet50 --input decoded --latents "lat-$op" $common \
        -o "cls-resnet50-decoded-$op"
    if [ "${SEG:-0}" = 1 ]; then
        encoded "$op" segmentation || $N encode-dataset --codec "paper-$op" \
            --data fashion-scenes:small --task segmentation -o "lat-$op"
        seg="--width 1.0 --iters 400 --eval-every 100 --batch-size 16 --schedule cosine"
        seg="$seg --val-fraction 0.1 --seed 0 --resume --data fashion-scenes:small"
        $N train-segmenter --model cresnet51-d --latents "lat-$op" $seg \
            --init "cls-cresnet51-latent-$op/model.safetensors" -o "seg-cresnet51-d-latent-$op"
        $N train-segmenter --model resnet50-d --input decoded --latents "lat-$op" $seg \
            --init "cls-resnet50-decoded-$op/model.safetensors" -o "seg-resnet50-d-decoded-$op"
    fi
done
if [ "${RGB:-1}" = 1 ]; then
    $N train-classifier --model resnet50 --input rgb --data fashion-scenes:small $common -o cls-resnet50-rgb
fi
