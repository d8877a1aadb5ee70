#!/usr/bin/env bash
# The dev-set side of the outlier-exposure ablation (docs/outlier-exposure.md), run once after
# the selection on held-out frames (scripts/recipe-study.sh): each named study row gets its meta
# classifier (fitted on the held-out train frames with part a of the proxy pasted, never on the
# dev sets), then one `eval` pass scores every row and the baselines on RoadAnomaly21, FS Static
# and the Cityscapes val frames, raw, +bs and +gs, with component metrics (ROW+meta).
#   scripts/study-dev.sh erfnet|efficientvit-b0 ROW [ROW ...]
# Results: runs/study/<backbone>/dev.{json,md}. Environment: THREADS, STUDY_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKBONE=$1; shift
SHARED=${SHARED:-../shared/data}
BIN=${BIN:-.venv/bin}
THREADS=${THREADS:-2}
CS=$SHARED/cityscapes
OUT=${STUDY_OUT:-runs/study/$BACKBONE}
case $BACKBONE in
  erfnet) W=$SHARED/erfnet/erfnet_cityscapes.pth ;;
  efficientvit-b0) W=$SHARED/efficientvit/cityscapes_b0.pt ;;
  *) echo "unknown backbone $BACKBONE" >&2; exit 2 ;;
esac
META=runs/study/meta-cutouts
[ -d $META/anomaly ] || $BIN/flowenedet synth --out $META --paste-into "cityscapes:$CS:train@4::5" \
  --cutouts $SHARED/ood_proxy --cutout-classes a --paste-distance 5,60 --seed 8
FEDS=()
for row in "$@"; do
  [ -f $OUT/$row/meta.json ] || $BIN/flowenedet fit-meta --backbone $BACKBONE --weights $W \
    --threads $THREADS --fed $OUT/$row --data "anomaly:$META/anomaly" 2>> $OUT/$row/eval.log
  FEDS+=(--fed "$row=$OUT/$row")
done
[ -f $OUT/sml_stats.json ] || $BIN/flowenedet estimate-stats --backbone $BACKBONE --weights $W \
  --threads $THREADS --data "cityscapes:$CS:train" --out $OUT/sml_stats.json
$BIN/flowenedet eval --backbone $BACKBONE --weights $W --threads $THREADS \
  --stats $OUT/sml_stats.json "${FEDS[@]}" \
  --data "RoadAnomaly21=anomaly:$SHARED/anomaly/RoadAnomaly21" \
  --data "FS_Static=anomaly:$SHARED/anomaly/FS_Static" --data "cityscapes-val=cityscapes:$CS:val" \
  --scores msp,maxlogit,energy,entropy,sml,fed --boundary-smoothing --gaussian-smoothing \
  --components --json $OUT/dev.json | tee $OUT/dev.md
