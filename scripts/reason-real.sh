#!/usr/bin/env bash
# docs/reason.md, real frames. The reason's thresholds for ERFNet + a FED detector are
# chosen on the 104 Cityscapes *train* frames only: clean (in-distribution), with fog, brightness
# and Gaussian noise at severity 3 (degraded; every third frame per corruption) and, every fourth
# frame, with synthetic objects pasted onto their road (anomaly) as a forward camera sees an object
# 0.3-2 m wide at a distance drawn (log-uniformly) from PASTE m ahead (default 5,60; 50 degree field of view, on the
# road row of that distance; PASTE= pastes them at their rendered size on a random road pixel, as
# before). Then the reason on the dev sets, once: RoadAnomaly21
# and FS Static (object expected where the frame has anomaly pixels), the 10 Cityscapes val frames
# clean (none) and with fog, brightness, Gaussian noise at severity 3 and 5 (scene).
#   scripts/reason-real.sh      FED=runs/fed-u (the README's training recipe), OUT=runs/reason-real
#   FED= SCORE=msp OUT=runs/reason-real-msp scripts/reason-real.sh     (a baseline instead of FED)
# The pixel threshold is fixed (PIXEL, default 0.5: more likely wrong than right), not chosen.
# The ROI is the road ahead, as for the embedded model. Each replay prints its reason confusion
# matrix; OUT/dev.md collects them.
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
mkdir -p $OUT
bag() { local name=$1; shift; [ -d $OUT/$name ] || $BIN/flowenedet make-bag $OUT/$name "$@"; }
replay() {
  local name=$1; shift
  [ -f $OUT/$name-replay/summary.json ] || { rm -rf $OUT/$name-replay;
    $BIN/flowenedet replay $OUT/$name --out $OUT/$name-replay "${MODEL[@]}" "$@" > $OUT/$name.txt || true; }
}

# choosing: train frames only
PASTE=${PASTE-5,60}
[ -d $OUT/paste/anomaly ] || $BIN/flowenedet synth --out $OUT/paste --paste-into "cityscapes:$CS:train@::4" \
  --seed 7 ${PASTE:+--paste-distance $PASTE}
bag train --data "cityscapes:$CS:train" --expect none
bag train-degraded --expect scene --data "cityscapes-c:$CS:train:fog:3@0::3" \
  --data "cityscapes-c:$CS:train:brightness:3@1::3" --data "cityscapes-c:$CS:train:gaussian_noise:3@2::3"
bag train-pasted --data "anomaly:$OUT/paste/anomaly" --expect object
for name in train train-degraded train-pasted; do replay $name; done
$BIN/flowenedet calibrate --inlier $OUT/train-replay/bag --degraded $OUT/train-degraded-replay/bag \
  --anomaly $OUT/train-pasted-replay/bag "${MODEL[@]}" -p "roi:=[0.25,0.45,0.75,1.0]" \
  -p pixel_threshold:=${PIXEL:-0.5} --fix-pixel-threshold --target 0.05 --out $OUT/thresholds.yaml

# the dev sets, once, with the chosen thresholds
bag RoadAnomaly21 --data "anomaly:$SHARED/anomaly/RoadAnomaly21" --expect object
bag FS_Static --data "anomaly:$SHARED/anomaly/FS_Static" --expect object
bag val --data "cityscapes:$CS:val" --expect none
for severity in 3 5; do
  bag val-c$severity --expect scene --data "cityscapes-c:$CS:val:fog:$severity" \
    --data "cityscapes-c:$CS:val:brightness:$severity" --data "cityscapes-c:$CS:val:gaussian_noise:$severity"
done
: > $OUT/dev.md
for name in RoadAnomaly21 FS_Static val val-c3 val-c5; do
  replay $name --params $OUT/thresholds.yaml
  { echo "### $name"; cat $OUT/$name.txt; echo; } >> $OUT/dev.md
done
cat $OUT/dev.md
