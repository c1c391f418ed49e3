"""The caption bank of the Fashion-MNIST caption set: class names, per-class synonyms, attribute words,
caption templates, and the zero-shot prompts (which are none of the caption templates).

A caption fills one template with a synonym of the image's class (`{noun}`), a tone word from the image's
mean foreground brightness (`{tone}`), a size word from its foreground area within its class (`{size}`),
and a style word drawn at random (`{style}`, not seen in the pixels). "a" before a vowel becomes "an".
"""

from __future__ import annotations

import re

CLASS_NAMES = (  # Fashion-MNIST labels 0..9, as classes.txt lists them
    "t-shirt", "trousers", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot",
)  # fmt: skip
SYNONYMS = (  # per class: noun phrases that take "a"; the class name (or its singular phrase) first
    ("t-shirt", "tee", "short-sleeved top", "tank top", "crew-neck t-shirt"),
    ("pair of trousers", "pair of pants", "pair of slacks", "pair of jeans", "pair of long trousers"),
    ("pullover", "sweater", "jumper", "knitted pullover", "long-sleeved sweater"),
    ("dress", "summer dress", "frock", "sleeveless dress", "knee-length dress"),
    ("coat", "jacket", "overcoat", "winter coat", "buttoned coat"),
    ("sandal", "open-toed sandal", "strappy sandal", "flat sandal", "summer sandal"),
    ("shirt", "button-up shirt", "blouse", "collared shirt", "long-sleeved shirt"),
    ("sneaker", "trainer", "running shoe", "sports shoe", "low-top sneaker"),
    ("bag", "handbag", "purse", "tote bag", "shoulder bag"),
    ("ankle boot", "boot", "short boot", "chelsea boot", "heeled ankle boot"),
)
TONES = (  # by mean foreground brightness: dark, middle, light
    ("dark", "black", "dark grey"),
    ("grey", "mid-grey", "greyish"),
    ("light", "pale", "white", "light grey"),
)
TONE_EDGES = (140, 185)  # mean foreground grey level (0..255) where dark ends and light begins
SIZES = (  # by foreground area, in thirds of the class
    ("small", "slim", "compact"),
    ("medium-sized", "regular"),
    ("large", "wide", "bulky"),
)
STYLES = ("simple", "plain", "casual", "classic", "everyday", "stylish", "basic", "modern")
TEMPLATES = (
    "a black and white photo of a {noun}.",
    "a {size} {tone} {noun} on a dark background.",
    "someone's {noun}.",
    "a {tone} {noun}.",
    "a low-resolution greyscale picture of a {style} {noun}.",
    "product shot of a {noun}, {tone} on black.",
    "a {style} {noun} photographed from the front.",
    "catalogue image: a {tone} {noun}.",
    "my {size} {noun}.",
    "a tiny 28 by 28 pixel image of a {noun}.",
    "the {noun} is {tone} and {size}.",
    "a {noun} for sale, shown in {tone} tones.",
    "a scanned {noun}, {size} and {tone}.",
    "a fashion item: a {style} {noun}.",
    "a {tone}, {style} {noun} centred in the frame.",
    "look at this {style} {noun}!",
    "a {size} {noun} in greyscale.",
    "thumbnail of a {tone} {noun}.",
    "a {noun} on its own, {tone} against black.",
    "an online shop listing: {size} {style} {noun}.",
)
PROMPTS = (  # zero-shot prompts: "{}" is a class name of CLASS_NAMES
    "a photo of a {}.",
    "a photo of the {}.",
    "a picture of a {}.",
    "an image of a {}.",
    "a cropped photo of a {}.",
    "a blurry photo of the {}.",
    "a good photo of the {}.",
    "a photo of my {}.",
    "a close-up photo of a {}.",
    "a bright photo of a {}.",
)


def with_articles(text: str) -> str:
    """`a` before a word starting with a vowel becomes `an` (`a ankle boot` -> `an ankle boot`)."""
    return re.sub(r"\b([aA]) (?=[aeiouAEIOU])", r"\1n ", text)


def compose(template: str, noun: str, tone: str, size: str, style: str) -> str:
    """One caption: `template` filled with the words, articles fixed."""
    return with_articles(template.format(noun=noun, tone=tone, size=size, style=style))
