"""Triton kernels of one FED flow block (blocks.py's FlowBlock.forward at inference).

FED-C first runs `condition_kernel`: the part of the subnet's first 1x1 that sees only the
condition, b1 + W1[:, 2:] ConditionNorm(a), which does not depend on z. Then one program of
`flow_block_kernel` takes a run of `BLOCK` pixels of the batch (images flattened row-major one
after the other; the last run is masked) and does the whole block in registers: for every KxK
offset it recomputes the subnet's pre-KxK activations sigmoid(W1 concat(z*M, a_i) + b1) at the
reflect-indexed neighbours (ActNorm and the 2x2 mixing are pointwise, so a neighbour's masked
latent is recomputed from the block's input), accumulates the KxK convolution (dense: a (C, C)
matrix product per offset; separable: a per-channel product), then finishes the subnet, the
coupling, the attention and the per-dimension log-det of its own pixels.

Every weight is read from the module's own parameter tensors, unfolded, at run time: nothing is
packed or cached, so a `.to(device)`, a `load_state_dict` or a replayed CUDA graph always sees
the current weights. Importing this module imports triton; whether its kernels run compiled or
in triton's interpreter (`TRITON_INTERPRET=1`) is fixed at import time.

Indices are 64-bit: no overflow on big batches, and triton's interpreter checks every 32-bit
integer operation for overflow, which doubles its run time. The loops inline what helpers would
do: a @triton.jit call costs about a millisecond in the interpreter.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _log_sigmoid(x):
    return tl.minimum(x, 0.0) - tl.log(1.0 + tl.exp(-tl.abs(x)))


# Sizes stay run-time integers: triton would turn a 1 (batch 1) into a constant without `.to`.
@triton.jit(do_not_specialize=["batch", "pixels"])
def condition_kernel(
        condition_ptr, hidden_ptr, condition_bias_ptr, condition_log_scale_ptr, w1_ptr, b1_ptr,
        batch, pixels,
        CONDITION: tl.constexpr,  # P, condition channels
        CONDITION_PAD: tl.constexpr,  # P rounded up to a power of two
        CHANNELS: tl.constexpr,  # C = 2 + P, the subnet's width
        CHANNELS_PAD: tl.constexpr,
        DOT: tl.constexpr,  # through tl.dot (every side >= 16)
        BLOCK: tl.constexpr):
    """(B, P, H, W) condition -> (B, C, H, W) b1 + W1[:, 2:] ConditionNorm(a)."""
    pixels = pixels.to(tl.int64)
    batch = batch.to(tl.int64)
    offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    valid = offsets < batch * pixels
    image = offsets // pixels
    local = offsets % pixels
    group = tl.arange(0, CONDITION_PAD).to(tl.int64)
    group_ok = group < CONDITION
    channel = tl.arange(0, CHANNELS_PAD).to(tl.int64)
    channel_ok = channel < CHANNELS
    condition_at = image * (CONDITION * pixels) + local
    if DOT:  # IEEE float32: no TF32
        raw = tl.load(condition_ptr + condition_at[:, None] + group[None, :] * pixels,
                      mask=valid[:, None] & group_ok[None, :], other=0.0)
        bias = tl.load(condition_bias_ptr + group, mask=group_ok, other=0.0)
        gain = tl.sigmoid(-tl.load(condition_log_scale_ptr + group, mask=group_ok, other=0.0))
        normed = bias[None, :] + raw * gain[None, :]
        # W1's condition columns, transposed: (P, C)
        w1 = tl.load(w1_ptr + channel[None, :] * CHANNELS + 2 + group[:, None],
                     mask=group_ok[:, None] & channel_ok[None, :], other=0.0)
        hidden = tl.dot(normed, w1, input_precision="ieee")
    else:  # one group at a time: triton compiles tl.sum(a[:, :, None] * b[None], 1) as a TF32
        # dot on a GPU (1e-4 off on an H200), which IEEE tl.dot cannot take below 16 wide
        hidden = tl.zeros([BLOCK, CHANNELS_PAD], dtype=tl.float32)
        for g in tl.static_range(CONDITION):
            raw = tl.load(condition_ptr + condition_at + g * pixels, mask=valid, other=0.0)
            gain = tl.sigmoid(-tl.load(condition_log_scale_ptr + g))
            normed = tl.load(condition_bias_ptr + g) + raw * gain
            w1 = tl.load(w1_ptr + channel * CHANNELS + 2 + g, mask=channel_ok, other=0.0)
            hidden += normed[:, None] * w1[None, :]
    hidden += tl.load(b1_ptr + channel, mask=channel_ok, other=0.0)[None, :]
    tl.store(hidden_ptr + (image * (CHANNELS * pixels) + local)[:, None]
             + channel[None, :] * pixels, hidden,
             mask=valid[:, None] & channel_ok[None, :])


@triton.jit(do_not_specialize=["batch", "height", "width"])
def flow_block_kernel(
        z_ptr, condition_hidden_ptr, u_ptr, log_det_ptr,
        actnorm_bias_ptr, actnorm_log_scale_ptr, mixing_ptr,
        w1_ptr, b1_ptr, w2_ptr, b2_ptr, w3_ptr, b3_ptr,
        query_weight_ptr, query_bias_ptr, gate_ptr,
        mixing_row_stride, mixing_column_stride, batch, height, width,
        KEEP: tl.constexpr,  # the latent dimension the mask keeps (M = 1): 1 for even blocks
        CONDITIONED: tl.constexpr,  # FED-C: condition_hidden_ptr holds condition_kernel's output
        CHANNELS: tl.constexpr,  # C = 2 + P, the subnet's width
        CHANNELS_PAD: tl.constexpr,  # C rounded up to a power of two
        KERNEL: tl.constexpr,
        SEPARABLE: tl.constexpr,
        DOT: tl.constexpr,  # dense KxK through tl.dot (C_PAD and BLOCK >= 16)
        BLOCK: tl.constexpr):
    """(B, 2, H, W) z -> u; log_det += this block's per-dimension log-det."""
    TRANSFORMED: tl.constexpr = 1 - KEEP
    RADIUS: tl.constexpr = KERNEL // 2
    batch = batch.to(tl.int64)
    height = height.to(tl.int64)
    width = width.to(tl.int64)
    pixels = height * width
    offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    valid = offsets < batch * pixels
    image = offsets // pixels
    local = offsets % pixels
    row = local // width
    column = local % width
    z_at = image * 2 * pixels  # channel 0 of this pixel's image

    # ActNorm (z + b) * exp(s) and the 2x2 mixing, as scalars
    bias0 = tl.load(actnorm_bias_ptr)
    bias1 = tl.load(actnorm_bias_ptr + 1)
    log_scale0 = tl.load(actnorm_log_scale_ptr)
    log_scale1 = tl.load(actnorm_log_scale_ptr + 1)
    scale0 = tl.exp(log_scale0)
    scale1 = tl.exp(log_scale1)
    # the 2x2 mixing matrix comes from a QR decomposition: column-major unless copied
    keep0 = tl.load(mixing_ptr + KEEP * mixing_row_stride)
    keep1 = tl.load(mixing_ptr + KEEP * mixing_row_stride + mixing_column_stride)

    channel = tl.arange(0, CHANNELS_PAD).to(tl.int64)
    channel_ok = channel < CHANNELS
    w1_keep = tl.load(w1_ptr + channel * CHANNELS + KEEP, mask=channel_ok, other=0.0)
    b1 = tl.load(b1_ptr + channel, mask=channel_ok, other=0.0)  # FED-U's; FED-C's is in hidden
    if SEPARABLE:
        w2_at = channel * (KERNEL * KERNEL)
        w2_ok = channel_ok
        accumulator = tl.zeros([BLOCK, CHANNELS_PAD], dtype=tl.float32)
    else:  # (C_in, C_out) slices of the (C_out, C_in, K, K) weight
        w2_at = (channel[None, :] * CHANNELS + channel[:, None]) * (KERNEL * KERNEL)
        w2_ok = channel_ok[:, None] & channel_ok[None, :]
        if DOT:
            accumulator = tl.zeros([BLOCK, CHANNELS_PAD], dtype=tl.float32)
        else:  # summed over C_in once, after the loops
            accumulator = tl.zeros([BLOCK, CHANNELS_PAD, CHANNELS_PAD], dtype=tl.float32)
    if CONDITIONED:
        condition_at = image[:, None] * (CHANNELS * pixels) + channel[None, :] * pixels
        condition_ok = valid[:, None] & channel_ok[None, :]

    for dy in range(KERNEL):
        # PyTorch's reflect padding (no edge repeat), valid for offsets up to size - 1
        near_row = tl.abs(row + (dy - RADIUS))
        near_row = tl.where(near_row >= height, 2 * (height - 1) - near_row, near_row) * width
        for dx in range(KERNEL):
            near_column = tl.abs(column + (dx - RADIUS))
            near = near_row + tl.where(near_column >= width, 2 * (width - 1) - near_column,
                                       near_column)
            near0 = tl.load(z_ptr + z_at + near, mask=valid, other=0.0)
            near1 = tl.load(z_ptr + z_at + pixels + near, mask=valid, other=0.0)
            kept = keep0 * ((near0 + bias0) * scale0) + keep1 * ((near1 + bias1) * scale1)
            hidden = kept[:, None] * w1_keep[None, :]
            if CONDITIONED:
                hidden += tl.load(condition_hidden_ptr + condition_at + near[:, None],
                                  mask=condition_ok, other=0.0)
            else:
                hidden += b1[None, :]
            hidden = 1.0 / (1.0 + tl.exp(-hidden))  # tl.sigmoid's formula
            w2 = tl.load(w2_ptr + w2_at + (dy * KERNEL + dx), mask=w2_ok, other=0.0)
            if SEPARABLE:
                accumulator += hidden * w2[None, :]
            elif DOT:  # IEEE float32: no TF32
                accumulator += tl.dot(hidden, w2, input_precision="ieee")
            else:
                accumulator += hidden[:, :, None] * w2[None, :, :]
    if not SEPARABLE and not DOT:
        accumulator = tl.sum(accumulator, axis=1)
    b2 = tl.load(b2_ptr + channel, mask=channel_ok, other=0.0)
    hidden = tl.sigmoid(accumulator + b2[None, :])
    # only the transformed dimension's output of the last 1x1 is used: (1-M) masks the other
    w3 = tl.load(w3_ptr + TRANSFORMED * CHANNELS + channel, mask=channel_ok, other=0.0)
    shift = tl.sum(hidden * w3[None, :], axis=1) + tl.load(b3_ptr + TRANSFORMED)

    # this run's own pixels: ActNorm, mixing, coupling, attention, log-dets
    z0 = (tl.load(z_ptr + z_at + local, mask=valid, other=0.0) + bias0) * scale0
    z1 = (tl.load(z_ptr + z_at + pixels + local, mask=valid, other=0.0) + bias1) * scale1
    kept = keep0 * z0 + keep1 * z1
    moved0 = tl.load(mixing_ptr + TRANSFORMED * mixing_row_stride)
    moved1 = tl.load(mixing_ptr + TRANSFORMED * mixing_row_stride + mixing_column_stride)
    moved = moved0 * z0 + moved1 * z1
    if KEEP == 0:
        determinant = keep0 * moved1 - keep1 * moved0
        kept_log_scale = log_scale0
        moved_log_scale = log_scale1
    else:
        determinant = moved0 * keep1 - moved1 * keep0
        kept_log_scale = log_scale1
        moved_log_scale = log_scale0
    mixing_log_det = tl.log(tl.abs(determinant))
    gate = tl.sigmoid(-shift)
    moved = moved * gate + shift
    query_weight = (tl.load(query_weight_ptr + KEEP) + tl.load(query_weight_ptr + 2 + KEEP)) / 2
    query_bias = (tl.load(query_bias_ptr) + tl.load(query_bias_ptr + 1)) / 2
    log_alpha = _log_sigmoid(-(kept * query_weight + query_bias))
    log_gamma = _log_sigmoid(-tl.load(gate_ptr + KEEP))

    kept_at = z_at + KEEP * pixels + local
    moved_at = z_at + TRANSFORMED * pixels + local
    tl.store(u_ptr + kept_at, kept * tl.exp(log_gamma), mask=valid)
    tl.store(u_ptr + moved_at, moved * tl.exp(log_alpha), mask=valid)
    kept_step = kept_log_scale + mixing_log_det + log_gamma
    moved_step = moved_log_scale + mixing_log_det + tl.log(gate) + log_alpha
    tl.store(log_det_ptr + kept_at,
             tl.load(log_det_ptr + kept_at, mask=valid, other=0.0) + kept_step, mask=valid)
    tl.store(log_det_ptr + moved_at,
             tl.load(log_det_ptr + moved_at, mask=valid, other=0.0) + moved_step, mask=valid)
