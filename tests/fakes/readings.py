"""Recognizer output written by hand: per-step probabilities over a small alphabet, for checking the
plate decoder's rules without the model's own judgement."""

from __future__ import annotations

import numpy as np

from bot.vendors.local.ocr import CropReading


def scripted_reading(steps: list[dict[str, float]], alphabet: tuple[str, ...]) -> CropReading:
    """A recognizer output: each step's probabilities by character, the rest going to blank (index 0)."""
    probs = np.full((len(steps), len(alphabet)), 1e-4)
    for row, step in enumerate(steps):
        for char, prob in step.items():
            probs[row, alphabet.index(char)] = prob
        probs[row, 0] = max(0.0, 1.0 - sum(step.values()))
    return CropReading.decode(probs, alphabet)
