"""Find packs by name or path and resolve `extends` chains.

A name (`default`, `strict`, `readonly`, `autonomous`) is looked up, first hit wins, in:
1. each folder of `$AGENTKIT_POLICY_PATH` (separated by `os.pathsep`),
2. `./policies/` in the current directory (a project's own packs; the repository keeps the canonical
   built-in packs there),
3. the copies shipped inside the package (`agentkit/policy/packs/`), so an installed agentkit works anywhere.
A pack that `extends` its own name (a project's `policies/default.yaml` with `extends: default`) gets the next
one down the search path, so overriding a built-in pack never means copying it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._errors import UserError
from ._pack import PolicyPack, check_disable, check_groups, merge, parse_pack, read_pack_text

PACKAGED_DIR = Path(__file__).parent / "packs"
_MAX_DEPTH = 8


def search_path() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("AGENTKIT_POLICY_PATH", "").split(os.pathsep) if p]
    return [*dirs, Path.cwd() / "policies", PACKAGED_DIR]


def available_packs() -> list[str]:
    names: set[str] = set()
    for folder in search_path():
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.yaml"))
    return sorted(names)


def _is_path(spec: str) -> bool:
    return spec.endswith((".yaml", ".yml")) or os.sep in spec or "/" in spec


def resolve_pack(spec: str, *, skip: set[Path] | None = None) -> Path:
    """The file a pack name or path refers to."""
    if _is_path(spec):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise UserError(f"no policy pack file at {path}")
        return path.resolve()
    for folder in search_path():
        candidate = (folder / f"{spec}.yaml").resolve()
        if candidate.is_file() and candidate not in (skip or set()):
            return candidate
    known = ", ".join(available_packs()) or "(none)"
    raise UserError(f"unknown policy pack {spec!r}; available: {known}; or give a path to a .yaml file")


def load_policy(spec: str | os.PathLike[str] = "default") -> PolicyPack:
    """Load a pack by name (see the module docstring for where) or by path, with its `extends` chain."""
    return _load(str(spec), chain=[])


def _load(spec: str, chain: list[Path]) -> PolicyPack:
    path = resolve_pack(spec, skip=set(chain))
    if path in chain:
        cycle = " -> ".join(p.name for p in [*chain, path])
        raise UserError(f"policy packs extend each other in a cycle: {cycle}; remove one `extends`")
    if len(chain) >= _MAX_DEPTH:
        raise UserError(f"policy pack {path} extends more than {_MAX_DEPTH} levels deep; flatten the chain")
    pack_file, marks = parse_pack(read_pack_text(path), str(path))
    parent = _load(pack_file.extends, [*chain, path]) if pack_file.extends else None
    groups = {**(parent.arg_groups if parent else {}), **pack_file.arg_groups}
    check_groups(pack_file, marks, str(path), {k: list(v) for k, v in groups.items()})
    check_disable(pack_file, marks, str(path), parent)
    return merge(parent, pack_file, name=path.stem, source=str(path))


def load_policy_text(text: str, *, source: str = "<string>") -> PolicyPack:
    """A pack from YAML text (tests, packs kept elsewhere). `extends` resolves names as `load_policy` does."""
    pack_file, marks = parse_pack(text, source)
    parent = _load(pack_file.extends, []) if pack_file.extends else None
    groups = {**(parent.arg_groups if parent else {}), **pack_file.arg_groups}
    check_groups(pack_file, marks, source, {k: list(v) for k, v in groups.items()})
    check_disable(pack_file, marks, source, parent)
    return merge(parent, pack_file, name=pack_file.name or "inline", source=source)
