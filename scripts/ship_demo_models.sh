#!/usr/bin/env bash
# Copy the seed-0 demo models of a `nodecode reproduce` run into the package:
# cResNet-51 / ResNet-50 classifiers and their -d segmenters at each operating point.
#   usage: scripts/ship_demo_models.sh RUN_DIR      (e.g. runs/rep-small)
set -euo pipefail
run=$1
dest=src/nodecode/models/weights
mkdir -p "$dest"
for op in 0.635 0.330 0.0983; do
  for net in cresnet51 resnet50; do
    cp "$run/stages/cls-$op-$net-s0/model.safetensors" "$dest/$net-$op.safetensors"
    cp "$run/stages/seg-$op-$net-d-s0/model.safetensors" "$dest/$net-d-$op.safetensors"
  done
done
du -ch "$dest"/*.safetensors | tail -1
