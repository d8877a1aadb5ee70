"""Invertible blocks of FED's flow.

Contract of every block: `forward(z, condition) -> (z_out, log_det)` and
`inverse(z_out, condition) -> z`, with z of shape (B, 2, H, W). `log_det` is kept *per latent
dimension*, shape (B, 2, H, W), not summed: FED turns each dimension's density into the logit of
one class. For blocks whose Jacobian is triangular (ActNorm, coupling, attention) the per-dimension
log-det is log|dz_out_d / dz_d|; the 1x1 convolution mixes both dimensions and adds its full
log|det W| to each (as the reference does; it cancels in p(m | z, a)).

`FlowBlock.infer` is the eval-mode form of `forward`: the same numbers, computing only the
dimension a block transforms (`FlowEneDet.transform` uses it outside training).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import onnx_forms

LATENT_DIMS = 2
ELEMENTWISE_MAX_CHANNELS = 4


def pointwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """A 1x1 convolution; with a handful of input channels (FED-U's 2) written out, because
    onnxruntime's NCHWc layout pads such convolutions to 8-16 channels and makes them several
    times slower than the arithmetic they do: a MatMul in an ONNX graph, a broadcast
    multiply-sum in PyTorch (faster there than either, in training too)."""
    if weight.shape[1] > ELEMENTWISE_MAX_CHANNELS:
        return F.conv2d(x, weight, bias)
    if onnx_forms.building_onnx_graph():
        out = onnx_forms.matmul_over_channels(x, weight[:, :, 0, 0])
    else:
        out = (weight[None, :, :, 0, 0, None, None] * x[:, None]).sum(dim=2)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


class PointwiseConv(nn.Conv2d):
    """nn.Conv2d(in, out, 1) computed by `pointwise` (same parameters, same checkpoints)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pointwise(x, self.weight, self.bias)


def kept_dimension(parity: int) -> int:
    """The latent dimension the mask of block `parity` keeps (M = 1): 1 when even, 0 when odd."""
    return 1 - parity % 2


def alternating_mask(parity: int, device: torch.device | None = None) -> torch.Tensor:
    """M = [0, 1] for even blocks, [1, 0] for odd ones, shaped (1, 2, 1, 1)."""
    mask = torch.zeros(LATENT_DIMS, device=device)
    mask[kept_dimension(parity)] = 1.0
    return mask.view(1, LATENT_DIMS, 1, 1)


class ConditionNorm(nn.Module):
    """Affine normalisation of the FED-C condition: a_i = b + a * sigmoid(-s) (not in the flow)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        return self.bias + condition * torch.sigmoid(-self.log_scale)


class ActNorm(nn.Module):
    """Per-dimension affine map z' = (z + b) * exp(s), data-initialised: by
    `FlowEneDet.initialize` (the trainer: pooled crops), else from the first training batch."""

    def __init__(self, channels: int = LATENT_DIMS) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def initialize(self, z: torch.Tensor) -> None:
        """Zero mean, unit variance per dimension over the batch."""
        mean = z.mean(dim=(0, 2, 3), keepdim=True)
        std = z.std(dim=(0, 2, 3), keepdim=True)
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std + 1e-6))
        self.initialized.fill_(True)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and not bool(self.initialized):
            self.initialize(z)
        return (z + self.bias) * torch.exp(self.log_scale), self.log_scale.expand_as(z)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z * torch.exp(-self.log_scale) - self.bias


class InvertibleConv1x1(nn.Module):
    """A learned 2x2 mixing matrix (Glow's invertible 1x1 convolution), orthogonal at init.

    Written as a 1x1 convolution with a closed-form 2x2 determinant so that it exports to ONNX
    and TensorRT without Einsum or Det operators."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(LATENT_DIMS)
        weight, _ = torch.linalg.qr(torch.randn(LATENT_DIMS, LATENT_DIMS, generator=generator))
        self.weight = nn.Parameter(weight)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.weight
        log_det = torch.log(torch.abs(w[0, 0] * w[1, 1] - w[0, 1] * w[1, 0]))
        return pointwise(z, w[:, :, None, None], None), log_det.expand_as(z)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return pointwise(z, torch.linalg.inv(self.weight)[:, :, None, None], None)


class SpatialConv(nn.Conv2d):
    """nn.Conv2d(c, c, K, reflect padding), dense or depthwise (same parameters, same
    checkpoints). Dense with a handful of channels (FED-U's 2, 4 with the margin), an ONNX graph
    gets it as a depthwise convolution (`onnx_forms.dense_conv_as_depthwise`)."""

    def __init__(self, channels: int, kernel_size: int, separable: bool = False) -> None:
        super().__init__(channels, channels, kernel_size, padding=kernel_size // 2,
                         padding_mode="reflect", groups=channels if separable else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (self.groups > 1 or self.in_channels > ELEMENTWISE_MAX_CHANNELS
                or not onnx_forms.building_onnx_graph()):
            return super().forward(x)
        pad_h, pad_w = self.padding
        padded = F.pad(x, (pad_w, pad_w, pad_h, pad_h), mode="reflect")
        return onnx_forms.dense_conv_as_depthwise(padded, self.weight, self.bias)


class CouplingSubnet(nn.Sequential):
    """1x1 conv, sigmoid, KxK conv (reflect pad), sigmoid, Dropout2d, 1x1 conv (zero init).

    `separable=True` makes the KxK convolution depthwise (one filter per channel): the leading 1x1
    already mixes channels, and the dense KxK is ~98 % of a FED-C block's MACs."""

    def __init__(self, in_channels: int, kernel_size: int, dropout: float,
                 separable: bool = False) -> None:
        output = PointwiseConv(in_channels, LATENT_DIMS)
        nn.init.zeros_(output.weight)
        nn.init.zeros_(output.bias)
        super().__init__(
            PointwiseConv(in_channels, in_channels), nn.Sigmoid(),
            SpatialConv(in_channels, kernel_size, separable),
            nn.Sigmoid(), nn.Dropout2d(dropout), output)


class AffineCoupling(nn.Module):
    """z <- z*M + (1-M) * (z * sigmoid(-h) + h), h = subnet(concat(z*M, a))."""

    def __init__(self, parity: int, condition_channels: int, kernel_size: int,
                 dropout: float, separable: bool = False) -> None:
        super().__init__()
        self.register_buffer("mask", alternating_mask(parity))
        self.kept = kept_dimension(parity)
        self.subnet = CouplingSubnet(LATENT_DIMS + condition_channels, kernel_size, dropout,
                                     separable)

    def _shift(self, z_masked: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        inputs = z_masked if condition is None else torch.cat([z_masked, condition], dim=1)
        return self.subnet(inputs)

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        z_masked = z * self.mask
        h = self._shift(z_masked, condition)
        gate = torch.sigmoid(-h)
        out = z_masked + (1 - self.mask) * (z * gate + h)
        # log(sigmoid(-h)) = -softplus(h), reusing the gate (no Softplus kernel at inference);
        # h is a 1x1 convolution of sigmoid outputs, far from where float32 sigmoid underflows.
        return out, (1 - self.mask) * torch.log(gate)

    def infer(self, z_kept: torch.Tensor, z_moved: torch.Tensor,
              condition: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """`forward` in eval mode on the two dimensions apart, each (B, 1, H, W): the moved
        one and its log-det. The subnet's first layer sees only the kept dimension's column (the
        masked one is zero), its last computes only the moved dimension's -h."""
        kept = self.kept
        first, *middle, last = self.subnet
        # slices, not an index list: a list becomes a host tensor copied to the device at every
        # call, which CUDA graph capture refuses
        weight = torch.cat([first.weight[:, kept:kept + 1], first.weight[:, LATENT_DIMS:]], dim=1)
        inputs = z_kept if condition is None else torch.cat([z_kept, condition], dim=1)
        hidden = pointwise(inputs, weight, first.bias)
        for layer in middle:
            hidden = layer(hidden)
        moved = 1 - kept
        negative_shift = pointwise(hidden, -last.weight[moved:moved + 1],
                                   -last.bias[moved:moved + 1])
        gate = torch.sigmoid(negative_shift)
        return z_moved * gate - negative_shift, torch.log(gate)

    def inverse(self, z: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        z_masked = z * self.mask
        h = self._shift(z_masked, condition)
        return z_masked + (1 - self.mask) * (z - h) / torch.sigmoid(-h)


class InvertibleAttention(nn.Module):
    """iMap: z <- z * ((1-M) * alpha + M * gamma), alpha = sigmoid(-mean_d(Wq (z*M) + bq))."""

    def __init__(self, parity: int) -> None:
        super().__init__()
        self.register_buffer("mask", alternating_mask(parity))
        self.kept = kept_dimension(parity)
        self.query = nn.Conv2d(LATENT_DIMS, LATENT_DIMS, 1)  # only its channel-mean is used
        nn.init.zeros_(self.query.weight)
        nn.init.zeros_(self.query.bias)
        self.gate = nn.Parameter(torch.zeros(1, LATENT_DIMS, 1, 1))

    def _log_factor(self, z_masked: torch.Tensor) -> torch.Tensor:
        # mean over the query's output channels of Wq z + bq, as one 1-output convolution
        query = pointwise(z_masked, self.query.weight.mean(0, keepdim=True),
                          self.query.bias.mean(0, keepdim=True))
        log_alpha = F.logsigmoid(-query)
        return (1 - self.mask) * log_alpha + self.mask * F.logsigmoid(-self.gate)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_factor = self._log_factor(z * self.mask)
        return z * torch.exp(log_factor), log_factor

    def infer(self, z_kept: torch.Tensor, z_moved: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """`forward` in eval mode on the two dimensions apart: (z_kept, z_moved, the moved
        dimension's log-det (B, 1, H, W), the kept dimension's constant log-det)."""
        kept = self.kept
        weight = self.query.weight.mean(0)[kept].view(1, 1, 1, 1)
        log_alpha = F.logsigmoid(-(z_kept * weight + self.query.bias.mean()))
        log_gamma = F.logsigmoid(-self.gate.view(LATENT_DIMS)[kept])
        return (z_kept * torch.exp(log_gamma), z_moved * torch.exp(log_alpha), log_alpha,
                log_gamma)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        z_masked = z * self.mask * torch.exp(-F.logsigmoid(-self.gate))
        return z * torch.exp(-self._log_factor(z_masked))


class FlowBlock(nn.Module):
    """One FED block: (condition norm), ActNorm, invertible 1x1 conv, affine coupling, iMap."""

    def __init__(self, parity: int, condition_channels: int = 0, kernel_size: int = 7,
                 dropout: float = 0.2, separable: bool = False) -> None:
        super().__init__()
        self.condition_norm = ConditionNorm(condition_channels) if condition_channels else None
        self.actnorm = ActNorm()
        self.mixing = InvertibleConv1x1()
        self.coupling = AffineCoupling(parity, condition_channels, kernel_size, dropout,
                                       separable)
        self.attention = InvertibleAttention(parity)
        self.kept = kept_dimension(parity)

    def _condition(self, condition: torch.Tensor | None) -> torch.Tensor | None:
        return None if self.condition_norm is None else self.condition_norm(condition)

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        z, log_det = self.actnorm(z)
        z, step = self.mixing(z)
        log_det = log_det + step
        z, step = self.coupling(z, self._condition(condition))
        log_det = log_det + step
        z, step = self.attention(z)
        return z, log_det + step

    def infer(self, z: torch.Tensor, condition: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`forward` in eval mode with less work: (z_out, the log-det of the transformed
        dimension that depends on z (B, 1, H, W), the constant log-det of each dimension (2,)).

        The masked form computes both dimensions and multiplies one away; here the kept
        dimension a passes through (scaled by iMap's constant), only the transformed one b is
        computed, ActNorm and the 2x2 mixing are one affine map, and the log-dets that do not
        depend on z (ActNorm's, log|det W|, iMap's for a) are returned as numbers to be added
        once (docs/performance.md has what it saves)."""
        if self.training:
            raise RuntimeError("FlowBlock.infer is the eval-mode form (no dropout, no ActNorm "
                               "initialisation); call the block itself to train")
        kept, moved = self.kept, 1 - self.kept
        actnorm_scale = self.actnorm.log_scale.view(LATENT_DIMS)
        affine = self.mixing.weight * torch.exp(actnorm_scale)[None]  # W diag(e^s)
        z = pointwise(z, affine[:, :, None, None], affine @ self.actnorm.bias.view(LATENT_DIMS))
        z_parts = z.split(1, dim=1)
        z_kept, z_moved = z_parts[kept], z_parts[moved]
        z_moved, coupling_log_det = self.coupling.infer(z_kept, z_moved,
                                                        self._condition(condition))
        z_kept, z_moved, attention_log_det, kept_log_det = self.attention.infer(z_kept, z_moved)
        w = self.mixing.weight
        constant = actnorm_scale + torch.log(torch.abs(w[0, 0] * w[1, 1] - w[0, 1] * w[1, 0]))
        constant = constant + self.attention.mask.view(LATENT_DIMS) * kept_log_det
        z_out = torch.cat([z_kept, z_moved] if kept == 0 else [z_moved, z_kept], dim=1)
        return z_out, coupling_log_det + attention_log_det, constant

    def inverse(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        z = self.attention.inverse(z)
        z = self.coupling.inverse(z, self._condition(condition))
        z = self.mixing.inverse(z)
        return self.actnorm.inverse(z)
