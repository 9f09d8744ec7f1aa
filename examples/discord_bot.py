"""A Discord bot that speaks in a voice channel with Speaker: `/say <text>`, `/leave`.

Not run in CI (it needs a Discord bot token and a guild); ruff checks it like the rest of the
repository. Set-up and the exact commands: docs/discord-bot.md.

Audio path: Speaker streams 24 kHz mono 16-bit PCM while it synthesizes, soxr resamples it to
Discord's 48 kHz, each sample is doubled into stereo, and discord.py's player reads 20 ms frames
from a pipe. Playback therefore starts with the first sentence, not after the whole text.
"""

from __future__ import annotations

import asyncio
import io
import os
import queue

import discord
import numpy as np
import soxr
from discord import app_commands

from speaker.client import AsyncSpeakerClient, SpeakerAPIError, SpeakerClientError

SPEAKER_RATE = 24_000  # Speaker's `pcm` format: 24 kHz s16le mono
DISCORD_RATE = 48_000  # discord.py plays 48 kHz s16le stereo, 20 ms (3840-byte) frames
FRAME_BYTES = discord.opus.Encoder.FRAME_SIZE


class PcmPipe(io.BufferedIOBase):
    """Bytes written by the event loop, read by discord.py's player thread, in whole frames."""

    def __init__(self) -> None:
        super().__init__()
        self._pieces: queue.Queue[bytes | None] = queue.Queue()
        self._buffer = bytearray()
        self._ended = False

    def feed(self, data: bytes) -> None:
        """Queue PCM for the player; an empty `data` is ignored."""
        if data:
            self._pieces.put(data)

    def end(self) -> None:
        """Mark the end of the audio: the player drains what is left, then stops."""
        self._pieces.put(None)

    def readable(self) -> bool:
        """The player only reads."""
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Block until `size` bytes are there; at the end, pad the last frame with silence."""
        size = FRAME_BYTES if size is None or size < 0 else size
        while not self._ended and len(self._buffer) < size:
            piece = self._pieces.get()
            if piece is None:
                self._ended = True
            else:
                self._buffer += piece
        if self._ended and 0 < len(self._buffer) < size:
            self._buffer += bytes(size - len(self._buffer))
        chunk = bytes(self._buffer[:size])
        del self._buffer[:size]
        return chunk


class Upsampler:
    """24 kHz mono s16le in, 48 kHz stereo s16le out, across chunk boundaries."""

    def __init__(self) -> None:
        self._stream = soxr.ResampleStream(SPEAKER_RATE, DISCORD_RATE, 1, dtype="int16")
        self._odd = b""  # an HTTP piece may end in the middle of a 2-byte sample

    def convert(self, data: bytes, *, last: bool = False) -> bytes:
        """Resample one piece of the stream (`last` flushes the resampler)."""
        data = self._odd + data
        whole = len(data) - len(data) % 2
        self._odd = data[whole:]
        mono = np.frombuffer(data[:whole], dtype="<i2")
        resampled = self._stream.resample_chunk(mono, last=last)
        return np.repeat(resampled, 2).astype("<i2").tobytes()


async def stream_into(pipe: PcmPipe, speaker: AsyncSpeakerClient, text: str, voice: str) -> None:
    """Fill `pipe` with the speech of `text` as Speaker produces it, then close it."""
    upsampler = Upsampler()
    try:
        async for piece in speaker.stream_speech(text, voice=voice, format="pcm"):
            pipe.feed(upsampler.convert(piece))
        pipe.feed(upsampler.convert(b"", last=True))
    finally:
        pipe.end()


class SpeakerBot(discord.Client):
    """A bot with two slash commands; one Speaker client shared by every guild."""

    def __init__(self, speaker: AsyncSpeakerClient, voice: str) -> None:
        intents = discord.Intents.default()
        intents.voice_states = True
        super().__init__(intents=intents)
        self.tree = app_commands.CommandTree(self)
        self.speaker = speaker
        self.voice = voice

    async def setup_hook(self) -> None:
        """Register the slash commands with Discord."""
        self.tree.add_command(say)
        self.tree.add_command(leave)
        await self.tree.sync()


async def _voice_client(interaction: discord.Interaction) -> discord.VoiceClient | None:
    member = interaction.user
    if not isinstance(member, discord.Member) or member.voice is None:
        return None
    channel = member.voice.channel
    if channel is None:
        return None
    current = interaction.guild.voice_client if interaction.guild else None
    if isinstance(current, discord.VoiceClient):
        if current.channel != channel:
            await current.move_to(channel)
        return current
    return await channel.connect()


@app_commands.command(description="Speak a text in your voice channel")
@app_commands.describe(text="What to say", voice="A Speaker voice id or OpenAI voice name")
async def say(interaction: discord.Interaction, text: str, voice: str | None = None) -> None:
    """Join the caller's voice channel and speak `text` there."""
    bot = interaction.client
    assert isinstance(bot, SpeakerBot)
    await interaction.response.defer(thinking=True)
    client = await _voice_client(interaction)
    if client is None:
        await interaction.followup.send("Join a voice channel first.")
        return
    if client.is_playing():
        client.stop()
    pipe = PcmPipe()
    feeding = asyncio.create_task(stream_into(pipe, bot.speaker, text, voice or bot.voice))
    client.play(discord.PCMAudio(pipe))
    try:
        await feeding
    except SpeakerAPIError as exc:
        hint = f" ({exc.suggestion})" if exc.suggestion else ""
        await interaction.followup.send(f"Speaker said no: {exc.message}{hint}")
        return
    except SpeakerClientError as exc:
        await interaction.followup.send(f"Speaker is not reachable: {exc}")
        return
    await interaction.followup.send(f"🔊 {text[:1900]}")


@app_commands.command(description="Leave the voice channel")
async def leave(interaction: discord.Interaction) -> None:
    """Disconnect from this guild's voice channel."""
    current = interaction.guild.voice_client if interaction.guild else None
    if current is not None:
        await current.disconnect(force=False)
    await interaction.response.send_message("Bye.", ephemeral=True)


def main() -> None:
    """Run the bot with DISCORD_TOKEN; SPEAKER_URL and SPEAKER_API_KEY reach Speaker."""
    speaker = AsyncSpeakerClient()  # reads SPEAKER_URL and SPEAKER_API_KEY
    bot = SpeakerBot(speaker, os.environ.get("SPEAKER_VOICE", "en_US-joe-medium"))
    bot.run(os.environ["DISCORD_TOKEN"])


if __name__ == "__main__":
    main()
