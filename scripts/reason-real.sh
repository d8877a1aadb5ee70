#!/usr/bin/env bash
# docs/reason.md "Real frames". The reason's thresholds for ERFNet + a FED detector (or a baseline
# score) are chosen on Cityscapes *train* frames only: clean (in-distribution); corrupted by fog,
# Gaussian noise, motion blur and contrast at severity 3 (degraded; every fourth frame per
# corruption); and, every fourth frame, with synthetic objects pasted onto their road (anomaly) as
# a forward camera sees an object 0.3-2 m wide at a distance drawn (log-uniformly) from PASTE m
# ahead (default 5,60). The image-evidence thresholds come from the same frames (calibrate reads
# the camera frames of the bags that were replayed). Then the dev sets, once: RoadAnomaly21 and
# FS Static (object expected where the frame has anomaly pixels), the 10 Cityscapes val frames
# clean (none), corrupted by fog, Gaussian noise, motion blur and contrast at severity 3 and 5
# (scene), and brightness at 3 and 5 (reported on its own: a brighter image need not be a
# degraded one). scripts/reason_table.py reads the replayed dev bags under the chosen thresholds
# and, with META (a meta.json of `flowenedet fit-meta` for the same score; optional), under the
# thresholds chosen the same way with the meta classifier deciding the objects too.
#   scripts/reason-real.sh      FED=runs/fed-u (docs/training.md recipe), OUT=runs/reason-real
#   FED= SCORE=msp OUT=runs/reason-real-msp scripts/reason-real.sh     (a baseline instead of FED)
#   FED= SCORE=msp META=D/meta-msp.json OUT=runs/reason-real-msp THREADS=1 scripts/reason-real.sh
# The pixel threshold is fixed (PIXEL, default 0.5: more likely wrong than right), not chosen.
# The ROI is the road ahead, as for the embedded model.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared/data}
BIN=${BIN:-.venv/bin}
OUT=${OUT:-runs/reason-real}
FED=${FED-runs/fed-u}
CS=$SHARED/cityscapes
MODEL=(-p backbone:=erfnet -p weights:=$SHARED/erfnet/erfnet_cityscapes.pth -p fed:=$FED
       -p score:=${SCORE:-msp} -p backend:=onnxruntime -p threads:=${THREADS:-2}
       -p artifacts_dir:=$OUT/artifacts)
ROAD_AHEAD="roi:=[0.25,0.45,0.75,1.0]"
CORRUPTIONS=(fog gaussian_noise motion_blur contrast)
mkdir -p $OUT
bag() { local name=$1; shift; [ -d $OUT/$name ] || $BIN/flowenedet make-bag $OUT/$name "$@"; }
replay() {
  local name=$1; shift
  [ -f $OUT/$name-replay/summary.json ] || { rm -rf $OUT/$name-replay;
    $BIN/flowenedet replay $OUT/$name --out $OUT/$name-replay "${MODEL[@]}" "$@" > $OUT/$name.txt || true; }
}
corrupted() {  # corrupted SPLIT SEVERITY STEP: every STEP-th frame per corruption, offset by its index
  local split=$1 severity=$2 step=$3 index=0 specs=()
  for corruption in "${CORRUPTIONS[@]}"; do
    specs+=(--data "cityscapes-c:$CS:$split:$corruption:$severity@$((index % step))::$step"); index=$((index + 1))
  done
  echo "${specs[@]}"
}

# choosing: train frames only
PASTE=${PASTE-5,60}
[ -d $OUT/paste/anomaly ] || $BIN/flowenedet synth --out $OUT/paste --paste-into "cityscapes:$CS:train@::4" \
  --seed 7 ${PASTE:+--paste-distance $PASTE}
bag train --data "cityscapes:$CS:train" --expect none
bag train-degraded --expect scene $(corrupted train 3 4)
bag train-pasted --data "anomaly:$OUT/paste/anomaly" --expect object
for name in train train-degraded train-pasted; do replay $name; done
calibrate() {  # calibrate FILE [-p meta_classifier:=META]
  local out=$1; shift
  [ -f $out ] || $BIN/flowenedet calibrate --inlier $OUT/train-replay/bag \
    --degraded $OUT/train-degraded-replay/bag --anomaly $OUT/train-pasted-replay/bag \
    "${MODEL[@]}" -p "$ROAD_AHEAD" -p pixel_threshold:=${PIXEL:-0.5} --fix-pixel-threshold \
    --target 0.05 --out $out "$@"
}
calibrate $OUT/thresholds.yaml
[ -z "${META:-}" ] || calibrate $OUT/thresholds-meta.yaml -p meta_classifier:=$META

# the dev sets, once
bag RoadAnomaly21 --data "anomaly:$SHARED/anomaly/RoadAnomaly21" --expect object
bag FS_Static --data "anomaly:$SHARED/anomaly/FS_Static" --expect object
bag val --data "cityscapes:$CS:val" --expect none
for severity in 3 5; do
  bag val-c$severity --expect scene $(corrupted val $severity 1)
  bag val-brightness$severity --expect scene --data "cityscapes-c:$CS:val:brightness:$severity"
done
DEV=(RoadAnomaly21 FS_Static val val-c3 val-c5 val-brightness3 val-brightness5)
for name in "${DEV[@]}"; do replay $name -p "$ROAD_AHEAD"; done
$BIN/python scripts/reason_table.py --thresholds $OUT/thresholds.yaml \
  ${META:+--meta $META --meta-thresholds $OUT/thresholds-meta.yaml} \
  $(for name in "${DEV[@]}"; do echo "$name=$OUT/$name-replay/bag"; done) | tee $OUT/dev.md
