// Gapless playback of a streamed PCM response (24 kHz, 16-bit little-endian, mono).
//
// Each network read becomes one AudioBufferSourceNode, started exactly where the previous one
// ends on the AudioContext's clock, so the pieces join sample for sample however the bytes were
// split. The context runs at 24 kHz itself: the browser resamples the joined signal once for the
// output device instead of resampling each piece on its own (which can click at the joins).

export const SAMPLE_RATE = 24000;
const BYTES_PER_SAMPLE = 2;
// Start this far ahead of "now": scheduling in the past would cut the first milliseconds.
const START_LEAD_S = 0.1;
// Peaks kept for the waveform: one per 10 ms of audio.
const PEAK_SAMPLES = SAMPLE_RATE / 100;

export class StreamPlayer extends EventTarget {
  constructor() {
    super();
    this.ctx = null;
    this.reset();
  }

  reset() {
    this.state = "idle"; // idle | loading | playing | done | stopped | error
    this.pieces = []; // Int16Array per read, kept to build a download without synthesizing again
    this.peaks = [];
    this.receivedBytes = 0;
    this.scheduledSeconds = 0;
    this.startTime = null; // context time of the first sample
    this.nextTime = 0; // context time where the next piece starts
    this.gapSeconds = 0; // silence inserted when the stream fell behind playback
    this.underruns = 0;
    this.streamDone = false;
    this.firstAudioMs = null;
    this.sources = new Set();
    this.peakCarry = { max: 0, count: 0 };
  }

  /**
   * Create or wake the AudioContext. Call it from the click or key press that starts playback:
   * browsers only let a page start audio in answer to a user gesture.
   */
  prepare() {
    if (!this.ctx) this.ctx = new AudioContext({ sampleRate: SAMPLE_RATE, latencyHint: "interactive" });
    if (this.ctx.state === "suspended") this.ctx.resume();
    return this.ctx;
  }

  setState(state) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }

  /**
   * Play a fetch() Response whose body is raw PCM, as it arrives. Resolves when the stream has
   * ended and the last sample has played; rejects if reading fails (stop() resolves it early).
   */
  async play(response, { requestedAt = performance.now() } = {}) {
    this.stopSources();
    this.reset();
    const ctx = this.prepare();
    this.setState("loading");
    this.reader = response.body.getReader();
    this.finished = new Promise((resolve) => {
      this.resolveFinished = resolve;
    });
    let carry = null; // a byte left over when a read ends in the middle of a sample
    try {
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done) break;
        if (this.state === "stopped") return;
        let bytes = value;
        if (carry !== null) {
          const joined = new Uint8Array(bytes.length + 1);
          joined[0] = carry;
          joined.set(bytes, 1);
          bytes = joined;
          carry = null;
        }
        if (bytes.length % BYTES_PER_SAMPLE) {
          carry = bytes[bytes.length - 1];
          bytes = bytes.subarray(0, bytes.length - 1);
        }
        this.receivedBytes += bytes.length;
        if (bytes.length) this.schedule(ctx, bytes, requestedAt);
      }
    } catch (error) {
      if (this.state === "stopped") return;
      this.stopSources();
      this.setState("error");
      throw error;
    }
    if (this.state === "stopped") return;
    // A byte still carried would be half a sample: the server always sends whole samples.
    this.streamDone = true;
    this.dispatchEvent(new Event("data"));
    if (!this.sources.size) this.finish();
    await this.finished;
  }

  schedule(ctx, bytes, requestedAt) {
    const count = bytes.length / BYTES_PER_SAMPLE;
    // DataView reads little-endian whatever the machine's order, at any byte offset.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const pcm = new Int16Array(count);
    const floats = new Float32Array(count);
    for (let i = 0; i < count; i += 1) {
      const sample = view.getInt16(i * BYTES_PER_SAMPLE, true);
      pcm[i] = sample;
      floats[i] = sample / 32768;
    }
    this.pieces.push(pcm);
    this.addPeaks(floats);

    const buffer = ctx.createBuffer(1, count, SAMPLE_RATE);
    buffer.copyToChannel(floats, 0);
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(ctx.destination);

    const now = ctx.currentTime;
    if (this.startTime === null) {
      this.startTime = now + START_LEAD_S;
      this.nextTime = this.startTime;
      this.firstAudioMs = performance.now() - requestedAt;
      this.setState("playing");
    } else if (this.nextTime < now + 0.01) {
      // The network fell behind playback: carry on a little ahead rather than in the past.
      this.underruns += 1;
      this.gapSeconds += now + START_LEAD_S - this.nextTime;
      this.nextTime = now + START_LEAD_S;
    }
    source.start(this.nextTime);
    this.nextTime += count / SAMPLE_RATE;
    this.scheduledSeconds += count / SAMPLE_RATE;
    this.sources.add(source);
    source.addEventListener("ended", () => {
      this.sources.delete(source);
      if (this.streamDone && !this.sources.size && this.state === "playing") this.finish();
    });
    this.dispatchEvent(new Event("data"));
  }

  addPeaks(floats) {
    const carry = this.peakCarry;
    for (let i = 0; i < floats.length; i += 1) {
      const magnitude = Math.abs(floats[i]);
      if (magnitude > carry.max) carry.max = magnitude;
      carry.count += 1;
      if (carry.count === PEAK_SAMPLES) {
        this.peaks.push(carry.max);
        carry.max = 0;
        carry.count = 0;
      }
    }
  }

  finish() {
    this.setState("done");
    this.resolveFinished?.();
  }

  stopSources() {
    for (const source of this.sources) {
      try {
        source.stop();
      } catch {
        // Not started yet or already ended: nothing to stop.
      }
    }
    this.sources.clear();
  }

  /** Stop playback and reading; what was received stays (for the waveform and a download). */
  stop() {
    if (this.state !== "loading" && this.state !== "playing") return;
    this.setState("stopped");
    this.stopSources();
    this.reader?.cancel().catch(() => {});
    this.resolveFinished?.();
  }

  /** Seconds played so far, on the audio clock. */
  playedSeconds() {
    if (!this.ctx || this.startTime === null) return 0;
    if (this.state === "done") return this.scheduledSeconds;
    const played = this.ctx.currentTime - this.startTime - this.gapSeconds;
    return Math.min(Math.max(0, played), this.scheduledSeconds);
  }

  /** The received audio as one Int16Array. */
  samples() {
    const total = this.pieces.reduce((sum, piece) => sum + piece.length, 0);
    const all = new Int16Array(total);
    let offset = 0;
    for (const piece of this.pieces) {
      all.set(piece, offset);
      offset += piece.length;
    }
    return all;
  }

  /** What tests and the page read: plain numbers, no live objects. */
  snapshot() {
    return {
      state: this.state,
      receivedBytes: this.receivedBytes,
      scheduledSeconds: this.scheduledSeconds,
      playedSeconds: this.playedSeconds(),
      startTime: this.startTime,
      contextTime: this.ctx ? this.ctx.currentTime : null,
      contextState: this.ctx ? this.ctx.state : null,
      sampleRate: this.ctx ? this.ctx.sampleRate : null,
      underruns: this.underruns,
      firstAudioMs: this.firstAudioMs,
    };
  }
}

/** A WAV file (RIFF, PCM 16-bit mono) around samples. */
export function wavBlob(samples, sampleRate = SAMPLE_RATE) {
  const header = new ArrayBuffer(44);
  const view = new DataView(header);
  const text = (offset, value) => {
    for (let i = 0; i < value.length; i += 1) view.setUint8(offset + i, value.charCodeAt(i));
  };
  const dataBytes = samples.length * BYTES_PER_SAMPLE;
  text(0, "RIFF");
  view.setUint32(4, 36 + dataBytes, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true); // fmt chunk size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * BYTES_PER_SAMPLE, true);
  view.setUint16(32, BYTES_PER_SAMPLE, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, dataBytes, true);
  // Int16Array is in the machine's byte order; WAV wants little-endian.
  const body = new DataView(new ArrayBuffer(dataBytes));
  for (let i = 0; i < samples.length; i += 1) body.setInt16(i * 2, samples[i], true);
  return new Blob([header, body.buffer], { type: "audio/wav" });
}

/**
 * Draw a player's waveform on a canvas: what has arrived, with the played part in the accent
 * colour. Colours come from the page's CSS, so the drawing follows the theme.
 */
export class Waveform {
  constructor(canvas, player, { onFrame } = {}) {
    this.canvas = canvas;
    this.player = player;
    this.onFrame = onFrame;
    this.frame = null;
    this.resize = this.resize.bind(this);
    new ResizeObserver(this.resize).observe(canvas);
    player.addEventListener("state", () => this.animate());
    player.addEventListener("data", () => this.draw());
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.draw());
    document.addEventListener("themechange", () => this.draw());
  }

  resize() {
    const ratio = window.devicePixelRatio || 1;
    const { width, height } = this.canvas.getBoundingClientRect();
    this.canvas.width = Math.max(1, Math.round(width * ratio));
    this.canvas.height = Math.max(1, Math.round(height * ratio));
    this.draw();
  }

  // Redraw every frame while playing (the playhead moves); once otherwise.
  animate() {
    if (this.frame !== null) return;
    const tick = () => {
      this.draw();
      const moving = this.player.state === "playing" || this.player.state === "loading";
      this.frame = moving ? requestAnimationFrame(tick) : null;
    };
    this.frame = requestAnimationFrame(tick);
  }

  draw() {
    const { canvas, player } = this;
    this.onFrame?.();
    const g = canvas.getContext("2d");
    const { width, height } = canvas;
    g.clearRect(0, 0, width, height);
    const style = getComputedStyle(canvas);
    const wave = style.getPropertyValue("--wave").trim() || "#999";
    const played = style.getPropertyValue("--wave-played").trim() || "#55f";
    const peaks = player.peaks;
    const ratio = window.devicePixelRatio || 1;
    const bar = 3 * ratio;
    const step = bar + 2 * ratio;
    const columns = Math.max(1, Math.floor(width / step));
    const middle = height / 2;
    if (!peaks.length) {
      g.fillStyle = wave;
      g.fillRect(0, middle - ratio / 2, width, ratio);
      return;
    }
    // Until the stream ends, the scale grows in steps so the bars do not shift on every read.
    const seconds = peaks.length / 100;
    const span =
      player.streamDone || player.state === "done" ? seconds : Math.max(10, Math.ceil(seconds / 10) * 10);
    const perColumn = (span * 100) / columns;
    const playedColumns = (player.playedSeconds() / span) * columns;
    for (let c = 0; c < columns; c += 1) {
      const from = Math.floor(c * perColumn);
      const to = Math.min(peaks.length, Math.max(from + 1, Math.floor((c + 1) * perColumn)));
      if (from >= peaks.length) break;
      let peak = 0;
      for (let i = from; i < to; i += 1) if (peaks[i] > peak) peak = peaks[i];
      // A square root scale shows quiet speech as well as loud.
      const half = Math.max(ratio, Math.sqrt(peak) * (middle - 2 * ratio));
      g.fillStyle = c < playedColumns ? played : wave;
      g.fillRect(c * step, middle - half, bar, half * 2);
    }
  }
}
