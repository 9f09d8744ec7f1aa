"""Sesame CSM-1B: voice cloning on PyTorch; needs the `speaker-tts[csm]` extra.

Only `engine` imports torch; `weights` and `errors` work on the base install, for the CLI.
"""
