#!/usr/bin/env bash
# Issue 4's measurement on fashion-scenes:small at one operating point (docs/RESULTS.md):
# cResNet-51 on latents vs ResNet-50 on decoded RGB vs ResNet-50 on original RGB (top-1),
# and cResNet-51-d vs ResNet-50-d (mIoU), each segmenter initialised from its classifier.
#   usage: scripts/fashion_scenes_baselines.sh CODEC OUT_DIR [EPOCHS] [ITERS] [WIDTH]
set -euo pipefail
codec=$1; out=$2; epochs=${3:-10}; iters=${4:-1000}; width=${5:-0.25}
nodecode=${NODECODE:-.venv/bin/nodecode}
data=fashion-scenes:small
mkdir -p "$out"
timed() {  # name, command...: run, and record the wall-clock seconds
  local name=$1; shift
  local start=$SECONDS
  "$@" > "$out/$name.stdout" 2> "$out/$name.stderr"
  echo "$name $((SECONDS - start))" >> "$out/wallclock.txt"
}
timed encode-cls $nodecode encode-dataset --codec "$codec" --data $data --task classification -o "$out/latents"
timed encode-seg $nodecode encode-dataset --codec "$codec" --data $data --task segmentation -o "$out/latents"
common=(--data $data --width "$width")
timed cresnet51-latent $nodecode train-classifier --model cresnet51 --latents "$out/latents" "${common[@]}" --epochs "$epochs" -o "$out/cresnet51-latent"
timed resnet50-decoded $nodecode train-classifier --model resnet50 --input decoded --latents "$out/latents" "${common[@]}" --epochs "$epochs" -o "$out/resnet50-decoded"
timed resnet50-rgb $nodecode train-classifier --model resnet50 --input rgb "${common[@]}" --epochs "$epochs" -o "$out/resnet50-rgb"
seg=(--iters "$iters" --eval-every $((iters / 4)))
timed cresnet51d-latent $nodecode train-segmenter --model cresnet51-d --latents "$out/latents" "${common[@]}" "${seg[@]}" --init "$out/cresnet51-latent/model.safetensors" -o "$out/cresnet51d-latent"
timed resnet50d-decoded $nodecode train-segmenter --model resnet50-d --input decoded --latents "$out/latents" "${common[@]}" "${seg[@]}" --init "$out/resnet50-decoded/model.safetensors" -o "$out/resnet50d-decoded"
echo done >> "$out/wallclock.txt"
