#!/usr/bin/env bash
# The GPU table of docs/performance.md ("On a GPU"), in one run on one card.
#
#   scripts/gpu-bench.sh prepare        # here: weights, FED checkpoints and 8 Cityscapes frames
#                                       # into runs/gpu-carry (git-ignored, ~30 MB)
#   scripts/gpu-bench.sh run OUT [STEP...]  # on the GPU machine, from the repository root, with
#                                       # runs/gpu-carry carried: JSON + logs under OUT; STEPs
#                                       # (default all): tests fused erfnet-small erfnet-large
#                                       # efficientvit segformer table
#
# Each step is time-boxed so one hang cannot eat the machine's time; REPEATS (default 200),
# STEP_S (default 150), LARGE / SMALL (model sizes, default 1024x2048 / 512x1024; smaller ones
# for a dry run on a CPU) override. Runs from the tree (PYTHONPATH=.), no install needed.
set -uo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared/data}
CARRY=runs/gpu-carry
REPEATS=${REPEATS:-200}
STEP_S=${STEP_S:-150}
PYTHON=${PYTHON:-python3}
LARGE=${LARGE:-1024x2048}
SMALL=${SMALL:-512x1024}

prepare() {
    rm -rf "$CARRY" && mkdir -p "$CARRY/frames"
    cp "$SHARED/erfnet/erfnet_cityscapes.pth" "$SHARED/efficientvit/cityscapes_b0.pt" "$CARRY/"
    find "$SHARED/cityscapes/leftImg8bit/val" -name '*.png' | sort | head -8 |
        xargs -I{} cp {} "$CARRY/frames/"
    for variant in fed-u fed-c; do  # trained ERFNet detectors of `make real-model`, if present
        if [ -d "runs/real-model/erfnet/$variant" ]; then
            mkdir -p "$CARRY/erfnet-$variant"
            cp "runs/real-model/erfnet/$variant"/fed.* "$CARRY/erfnet-$variant/"
        fi
    done
    du -sh "$CARRY"
}

step() {  # step NAME COMMAND...: time-boxed, output to OUT/NAME.log, status to OUT/steps.txt
    local name=$1
    shift
    local started=$SECONDS
    timeout "$STEP_S" "$@" > "$OUT/$name.log" 2>&1
    echo "$name rc=$? $((SECONDS - started)) s" | tee -a "$OUT/steps.txt"
}

bench() {  # bench NAME ARGS...: flowenedet bench on the carried frames (own size: 1024x2048)
    local name=$1
    shift
    step "$name" env PYTHONPATH=. "$PYTHON" -m flowenedet_core.cli.main bench "$@" \
        --images "$CARRY/frames" --repeats "$REPEATS" --backends torch \
        --precisions fp32,fp16,bf16 --engines "$OUT/engines" --json "$OUT/$name.json"
}

tests() {
    step cuda-tests env PYTHONPATH=. "$PYTHON" -m pytest -q -p no:cacheprovider \
        test/core/runtime/test_frame_path.py test/core/runtime/test_cuda_path.py \
        test/core/fed/test_fused_flow.py
}

fused() {  # the flow alone, eager PyTorch against the fused kernels (CUDA events)
    local case
    for case in "fed-u 128x256" "fed-c-cheap 256x512" "fed-c-reference 256x512"; do
        set -- $case
        step "fused-$1-$2" env PYTHONPATH=. "$PYTHON" -m flowenedet_core.fed.fused --preset "$1" \
            --grid "$2" --device cuda --repeats "$REPEATS"
    done
    for groups in 8 16 32; do  # dense KxK FED-C, where the fused kernels stop paying
        step "fused-fed-c-dense-P$groups-256x512" env PYTHONPATH=. "$PYTHON" \
            -m flowenedet_core.fed.fused --config "variant=fed-c,num_blocks=4,condition_groups=$groups" \
            --grid 256x512 --device cuda --repeats "$REPEATS"
    done
}

erfnet() {  # erfnet SIZE [ARGS...]
    local size=$1
    shift
    local fed_u=(--fed-config variant=fed-u)
    [ -d "$CARRY/erfnet-fed-u" ] && fed_u=(--fed "$CARRY/erfnet-fed-u")
    bench "erfnet-fed-u-$size" --backbone erfnet --weights "$CARRY/erfnet_cityscapes.pth" \
        "${fed_u[@]}" --size "$size" "$@"
}

efficientvit() {
    bench "efficientvit-b0-fed-u-$LARGE" --backbone efficientvit-b0 \
        --weights "$CARRY/cityscapes_b0.pt" --fed-config variant=fed-u,flow_stride=8 \
        --size "$LARGE"
}

segformer() {
    bench "segformer-b2-fed-c-cheapest-$LARGE" --backbone segformer-b2 \
        --fed-config variant=fed-c,num_blocks=4,separable=1,condition_groups=8 --size "$LARGE"
}

run() {  # run [STEP...]: the named steps, by default all of them
    mkdir -p "$OUT"
    { nvidia-smi; "$PYTHON" -c "import torch, triton; print(torch.__version__, torch.version.cuda, triton.__version__)"; } > "$OUT/environment.txt" 2>&1
    local name steps=("$@")
    [ $# -eq 0 ] && steps=(tests fused erfnet-small erfnet-large efficientvit segformer table)
    for name in "${steps[@]}"; do
        case "$name" in
            tests | fused | efficientvit | segformer) "$name" ;;
            erfnet-small) erfnet "$SMALL" --cameras 1,2,4 ;;
            erfnet-large) erfnet "$LARGE" ;;
            table) step table env PYTHONPATH=. "$PYTHON" scripts/gpu_table.py "$OUT" ;;
            *) echo "unknown step $name" >&2; return 2 ;;
        esac
    done
}

case "${1:-}" in
    prepare) prepare ;;
    run) OUT=${2:?usage: scripts/gpu-bench.sh run OUT [STEP...]}; shift 2; run "$@" ;;
    *) echo "usage: scripts/gpu-bench.sh prepare | run OUT [STEP...]" >&2; exit 2 ;;
esac
