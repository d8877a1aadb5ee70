#!/usr/bin/env bash
# The FED recipe study of docs/recipe-study.md: every row trains on the train frames minus a
# hold-out of 20 (@!4::5) and is scored on that hold-out only (misclassification at the input size
# and at 0.75x, synthetic objects pasted on its road, and real cut-outs of the proxy classes the
# outlier rows never train on, part b of the class split), never on the dev sets.
#   scripts/recipe-study.sh erfnet|efficientvit-b0 [ROW ...]     (default: every row)
# Environment: ITERS (default 3000), THREADS, SEED (training seed), STUDY_OUT.
# Results: runs/study/<backbone>/<row>/{fed.json, heldout*.json}; scripts/study_table.py prints them.
# Crops are half the test size per side (the reference's 512x1024 of 1024x2048), so ratios >= 0.5
# never pad.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKBONE=$1; shift
SHARED=${SHARED:-../shared/data}
BIN=${BIN:-.venv/bin}
THREADS=${THREADS:-1}
ITERS=${ITERS:-3000}
CS=$SHARED/cityscapes
OUT=${STUDY_OUT:-runs/study/$BACKBONE}
case $BACKBONE in
  erfnet)
    W=$SHARED/erfnet/erfnet_cityscapes.pth; SMALL=384x768; CROP=256x512; STRIDE=4
    ALL_CHANNELS=16  # its classifier input
    BACKBONE_RANGE=1.0,1.0  # ERFNet was trained without scale augmentation
    RAW=--raw-logits ;;  # the study's choice for ERFNet (covariate-raw rows)
  efficientvit-b0)
    W=$SHARED/efficientvit/cityscapes_b0.pt; SMALL=768x1536; CROP=512x1024
    STRIDE=8  # the flow at the classifier's resolution, as METHOD.md places it
    ALL_CHANNELS=128  # its classifier input
    BACKBONE_RANGE=0.5,2.0  # its authors trained it on the reference's range
    RAW= ;;  # the study's choice for EfficientViT-B0 (standardised logits)
  *) echo "unknown backbone $BACKBONE" >&2; exit 2 ;;
esac
FIT="cityscapes:$CS:train@!4::5"
HOLDOUT="heldout=cityscapes:$CS:train@4::5"
PASTED=runs/study/heldout-paste
CUTOUTS=runs/study/heldout-cutouts
PROXY=$SHARED/ood_proxy
OE="--outliers $PROXY --outlier-classes a --outlier-weight 3"  # part b stays unseen: the selection's objects
CONTROL="--paste-controls 3"
COVARIATE="--photometric --corruptions fog,brightness,contrast,gaussian_noise,motion_blur --corruption-prob 0.5"
SAMPLER="--views sampler --crop $CROP --draws ${DRAWS:-8}"
declare -A ROWS=(
  [today]="--variant fed-u --raw-logits --views scales"
  [reference]="--variant fed-u $SAMPLER --ratio-range 0.5,2.0"
  [matched]="--variant fed-u $SAMPLER --ratio-range 0.75,1.25"
  [matched-raw]="--variant fed-u $SAMPLER --ratio-range 0.75,1.25 --raw-logits"
  [covariate]="--variant fed-u $SAMPLER --ratio-range 0.75,1.25 $COVARIATE"
  [covariate-raw]="--variant fed-u $SAMPLER --ratio-range 0.75,1.25 $COVARIATE --raw-logits"
  [backbone-range]="--variant fed-u $SAMPLER --ratio-range $BACKBONE_RANGE"
  [fed-c-reference]="--variant fed-c --blocks 4 --separable --groups 8 $SAMPLER --ratio-range 0.5,2.0"
  [fed-c-matched]="--variant fed-c --blocks 4 --separable --groups 8 $SAMPLER --ratio-range 0.75,1.25"
  [fed-c-all-channels]="--variant fed-c --blocks 4 --separable --groups $ALL_CHANNELS $SAMPLER --ratio-range 0.75,1.25"
  [fed-c-covariate]="--variant fed-c --blocks 4 --separable --groups 8 $SAMPLER --ratio-range 0.75,1.25 $COVARIATE"
  [fed-c-covariate-raw]="--variant fed-c --blocks 4 --separable --groups 8 $SAMPLER --ratio-range 0.75,1.25 $COVARIATE --raw-logits"
  # outlier exposure: the best rows above, then + outliers, + paste control, + margin
  [margin-u]="--variant fed-u $SAMPLER --ratio-range 0.75,1.25 $COVARIATE $RAW --margin"
  # misclassification: positives that are the backbone's own errors only (void ignored), and
  # errors of lightly jittered crops only (no corruptions), the kind a clean frame shows
  [margin-void-u]="--variant fed-u $SAMPLER --ratio-range 0.75,1.25 $COVARIATE $RAW --margin --void ignore"
  [margin-clean-u]="--variant fed-u $SAMPLER --ratio-range 0.75,1.25 --photometric $RAW --margin --void ignore"
  # the flow's own fit of the margin: no Dropout2d (at FED-U's 4 subnet channels it drops a
  # whole input), and a 3x learning rate
  [margin-nodrop-u]="--variant fed-u $SAMPLER --ratio-range 0.75,1.25 $COVARIATE $RAW --margin --dropout 0"
  [margin-lr-u]="--variant fed-u $SAMPLER --ratio-range 0.75,1.25 $COVARIATE $RAW --margin --lr 3e-3"
  # the margin as the prior odds of m = 1 too (a direct path from the condition to the output)
  [margin-prior-u]="--variant fed-u $SAMPLER --ratio-range 0.75,1.25 $COVARIATE $RAW --margin --condition-prior"
  [margin-prior-lr-u]="--variant fed-u $SAMPLER --ratio-range 0.75,1.25 $COVARIATE $RAW --margin --condition-prior --lr 3e-3"
  [margin-prior-lr10-u]="--variant fed-u $SAMPLER --ratio-range 0.75,1.25 $COVARIATE $RAW --margin --condition-prior --lr 1e-2"
  # the chosen FED-U recipe (margin-prior-u) with outliers and the paste control
  [oe-control-margin-prior-u]="--variant fed-u $SAMPLER --ratio-range 0.75,1.25 $COVARIATE $RAW $OE $CONTROL --margin --condition-prior"
  [oe-u]="--variant fed-u $SAMPLER --ratio-range 0.75,1.25 $COVARIATE $RAW $OE"
  [oe-control-margin-u]="--variant fed-u $SAMPLER --ratio-range 0.75,1.25 $COVARIATE $RAW $OE $CONTROL --margin"
  [oe-c]="--variant fed-c --blocks 4 --separable --groups 8 $SAMPLER --ratio-range 0.75,1.25 $COVARIATE $RAW $OE"
  [oe-control-c]="--variant fed-c --blocks 4 --separable --groups 8 $SAMPLER --ratio-range 0.75,1.25 $COVARIATE $RAW $OE $CONTROL"
  [oe-control-margin-prior-c]="--variant fed-c --blocks 4 --separable --groups 8 $SAMPLER --ratio-range 0.75,1.25 $COVARIATE $RAW $OE $CONTROL --margin --condition-prior"
  [oe-control-margin-c]="--variant fed-c --blocks 4 --separable --groups 8 $SAMPLER --ratio-range 0.75,1.25 $COVARIATE $RAW $OE $CONTROL --margin"
)
ORDER=(today reference matched matched-raw covariate covariate-raw backbone-range fed-c-reference fed-c-matched fed-c-all-channels fed-c-covariate fed-c-covariate-raw)
[ $# -gt 0 ] && ORDER=("$@")
[ -d $PASTED/anomaly ] || $BIN/flowenedet synth --out $PASTED --paste-into "cityscapes:$CS:train@4::5" --seed 7
[ -d $CUTOUTS/anomaly ] || $BIN/flowenedet synth --out $CUTOUTS --paste-into "cityscapes:$CS:train@4::5" \
  --cutouts $PROXY --cutout-classes b --paste-distance 5,60 --seed 7
for row in "${ORDER[@]}"; do
  dir=$OUT/$row
  [ -f $dir/heldout-small.json ] && continue
  mkdir -p $dir
  start=$(date +%s)
  # shellcheck disable=SC2086
  $BIN/flowenedet train --backbone $BACKBONE --weights $W --data "$FIT" --iters $ITERS \
    --threads $THREADS --seed ${SEED:-0} --flow-stride $STRIDE ${ROWS[$row]} --out $dir \
    2> $dir/train.log
  echo "$(( $(date +%s) - start ))" > $dir/train_seconds
  $BIN/flowenedet eval --backbone $BACKBONE --weights $W --threads $THREADS --fed "$row=$dir" \
    --data "$HOLDOUT" --data "pasted=anomaly:$PASTED/anomaly" --data "cutouts=anomaly:$CUTOUTS/anomaly" \
    --scores msp,maxlogit,energy,entropy,fed --json $dir/heldout.json > $dir/heldout.md 2> $dir/eval.log
  $BIN/flowenedet eval --backbone $BACKBONE --weights $W --threads $THREADS --fed "$row=$dir" \
    --size $SMALL --data "heldout-small=cityscapes:$CS:train@4::5" \
    --scores msp,maxlogit,energy,entropy,fed --json $dir/heldout-small.json > $dir/heldout-small.md 2>> $dir/eval.log
  echo "$row done in $(( $(date +%s) - start )) s"
done
