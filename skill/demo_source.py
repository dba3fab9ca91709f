"""The VDA demo input, named once: the Hugging Face dataset it comes from and the dataset name it
gets on storage. (Two different things that both used to be called ``DEMO_DATASET``.)"""

from __future__ import annotations

__all__ = ["DEMO_DATASET_NAME", "DEMO_REPO"]

DEMO_REPO = "nvidia/video-data-augmentation-demo"
"""The Hugging Face dataset repo the demo clips are downloaded from (rule ``vda-demo-only``)."""
DEMO_DATASET_NAME = "vda-demo"
"""The dataset folder the demo clips are uploaded to: ``<storage_url>/datasets/vda-demo``."""
