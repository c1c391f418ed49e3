"""Image-caption data for image-text training (CLIP, SigLIP, LiT): the caption tokenizer, data modules over
manifests and tar shards that deliver (images uint8 (B, C, H, W), tokens int64 (B, L)) batches, and the
Fashion-MNIST caption set."""

from simclr.captions.fashion_mnist import write_fashion_mnist_captions
from simclr.captions.manifest_data import CaptionManifest
from simclr.captions.shards import CaptionShards
from simclr.captions.tokenizer import CaptionTokenizer, train_tokenizer

__all__ = ["CaptionManifest", "CaptionShards", "CaptionTokenizer", "train_tokenizer", "write_fashion_mnist_captions"]
