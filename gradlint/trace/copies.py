"""Private copies of the user's model, so tracing never touches the original (made as ``gradlint.load.copies``
describes), and example inputs moved to the meta device to go with a meta copy.
"""

from __future__ import annotations

import torch

from gradlint.load.copies import (
    SharesUserState,
    full_copy,
    guard_user_state,
    meta_copy,
    shared_copy,
    user_state_ids,
)
from gradlint.trace.shapes import map_tensors

__all__ = ["SharesUserState", "full_copy", "guard_user_state", "meta_copy", "shared_copy", "to_meta", "user_state_ids"]


def to_meta(value: object) -> object:
    return map_tensors(value, lambda t: torch.empty_like(t, device="meta"))
