"""The "files" toolkit: a workspace of one or more roots, six tools, and the patch helpers they use.

    from agentkit.toolkits.files import apply_before_after

    new = apply_before_after(old, "<<<<<<< BEFORE\\nx = 1\\n=======\\nx = 2\\n>>>>>>> AFTER\\n")

Tools: read_file, list_dir, search_files (read); write_file, apply_patch (write); delete_file (destructive).
Writes are atomic and keep the previous version under `<root>/.agentkit-backup/`.
"""

from __future__ import annotations

from ._patch import (
    BeforeAfter,
    PatchError,
    apply_before_after,
    apply_block,
    apply_patch_text,
    apply_unified_diff,
    parse_before_after,
    parse_unified_diff,
)
from ._paths import PathRefused, Resolved, Workspace
from ._toolkit import Config, toolkit, unified_diff

__all__ = [
    "BeforeAfter",
    "Config",
    "PatchError",
    "PathRefused",
    "Resolved",
    "Workspace",
    "apply_before_after",
    "apply_block",
    "apply_patch_text",
    "apply_unified_diff",
    "parse_before_after",
    "parse_unified_diff",
    "toolkit",
    "unified_diff",
]
