"""Mimi, CSM's audio codec: encoding references once, and decoding frames as they arrive.

Every part of Mimi's decoder is causal, so a sample depends only on the frames up to its own.
`StreamDecoder` carries each part's state from one piece to the next (the inputs a convolution
still needs, the overlap a transposed convolution still owes, the attention cache), which makes
the pieces join exactly as if all frames had been decoded at once: no seams, no re-decoding.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from transformers import DynamicCache
from transformers.models.mimi.modeling_mimi import (
    MimiConv1d,
    MimiConvTranspose1d,
    MimiDecoderModel,
    MimiModel,
    MimiResnetBlock,
)

from speaker.errors import EngineError


def check_streamable(codec: MimiModel) -> None:
    """Refuse a codec whose decoder `StreamDecoder` cannot reproduce exactly."""
    config = codec.config
    if not config.use_causal_conv or config.pad_mode != "constant" or config.trim_right_ratio != 1:
        raise EngineError(
            "this Mimi codec is not causal with zero padding; CSM streaming needs one that is",
            code="model_unsupported",
        )


def samples_per_frame(codec: MimiModel) -> int:
    """Audio samples one codec frame decodes to (1920 at 24 kHz and 12.5 frames a second)."""
    return round(codec.config.sampling_rate / codec.config.frame_rate)


def encode(codec: MimiModel, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.int32]:
    """Codes of mono audio at the codec's rate, as `[frames, codebooks]`."""
    parameter = next(codec.parameters())
    audio = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    audio = audio.to(device=parameter.device, dtype=parameter.dtype)[None, None, :]
    codes = codec.encode(audio).audio_codes  # [1, codebooks, frames]
    result: npt.NDArray[np.int32] = codes[0].T.to(torch.int32).cpu().numpy()
    return result


def decode(codec: MimiModel, codes: torch.Tensor) -> torch.Tensor:
    """Audio of `[batch, codebooks, frames]` codes, all at once: `[batch, frames * 1920]`."""
    audio: torch.Tensor = codec.decode(codes).audio_values
    return audio[:, 0, :]


class StreamDecoder:
    """Decodes one batch's frames piece by piece, carrying the decoder's state between pieces."""

    def __init__(self, codec: MimiModel) -> None:
        decoder = codec.decoder
        if not isinstance(decoder, MimiDecoderModel):
            raise EngineError("this Mimi codec has no decoder", code="model_unsupported")
        check_streamable(codec)
        if any(
            isinstance(module, MimiConv1d) and module.conv.stride[0] != 1
            for module in decoder.modules()
        ):
            raise EngineError(
                "this Mimi decoder has strided convolutions", code="model_unsupported"
            )
        self._codec = codec
        self._decoder = decoder
        self._attention = DynamicCache(config=decoder.decoder_transformer.config)
        # Keyed by module identity: each convolution of the decoder keeps its own state.
        self._history: dict[int, torch.Tensor] = {}
        self._overlap: dict[int, torch.Tensor] = {}

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Audio of the next `[batch, codebooks, frames]` codes: `[batch, frames * 1920]`."""
        latents = self._codec.quantizer.decode(codes)
        hidden = latents
        if self._decoder.upsample is not None:
            hidden = self._transposed(self._decoder.upsample, hidden)
        hidden = self._decoder.decoder_transformer(
            hidden.transpose(1, 2), cache=self._attention, use_cache=True
        ).last_hidden_state
        audio = self._layers(self._decoder.decoder_seanet.layers, hidden.transpose(1, 2))
        return audio[:, 0, :]

    def _layers(self, layers: nn.ModuleList, hidden: torch.Tensor) -> torch.Tensor:
        for layer in layers:
            if isinstance(layer, MimiConv1d):
                hidden = self._conv(layer, hidden)
            elif isinstance(layer, MimiConvTranspose1d):
                hidden = self._transposed(layer, hidden)
            elif isinstance(layer, MimiResnetBlock):
                shortcut = layer.shortcut
                skip = self._conv(shortcut, hidden) if isinstance(shortcut, MimiConv1d) else hidden
                hidden = skip + self._layers(layer.block, hidden)
            else:
                hidden = layer(hidden)
        return hidden

    def _conv(self, layer: MimiConv1d, hidden: torch.Tensor) -> torch.Tensor:
        # A causal convolution pads its input with zeros on the left; in a stream, those zeros
        # are the previous piece's last inputs instead.
        conv = layer.conv
        context = (conv.kernel_size[0] - 1) * conv.dilation[0]
        previous = self._history.get(id(layer))
        if previous is None:
            previous = hidden.new_zeros(hidden.shape[0], hidden.shape[1], context)
        joined = torch.cat([previous, hidden], dim=-1)
        self._history[id(layer)] = joined[..., joined.shape[-1] - context :]
        output: torch.Tensor = conv(joined)
        return output

    def _transposed(self, layer: MimiConvTranspose1d, hidden: torch.Tensor) -> torch.Tensor:
        # Each input step spreads over `kernel` outputs; the last `kernel - stride` of a piece
        # overlap the next piece's first outputs, so they are held back and added there.
        conv = layer.conv
        stride = conv.stride[0]
        spread = F.conv_transpose1d(
            hidden, conv.weight, None, stride, 0, 0, conv.groups, conv.dilation[0]
        )
        ready = hidden.shape[-1] * stride
        owed = self._overlap.get(id(layer))
        if owed is not None:
            spread[..., : owed.shape[-1]] += owed
        self._overlap[id(layer)] = spread[..., ready:]
        output = spread[..., :ready]
        if conv.bias is not None:
            output = output + conv.bias[None, :, None]
        return output
