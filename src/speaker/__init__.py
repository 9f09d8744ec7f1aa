"""Speaker: self-hosted text-to-speech and voice cloning with an OpenAI-compatible API."""
