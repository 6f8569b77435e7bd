"""An exercise's manifest (`exercises/<id>/exercise.toml`), read into a typed record.

title = "A drift gate that trips"
archetype = "data"              # data | infra | model | fullstack
minutes = 20                    # how long a newcomer takes: an estimate until a room times it
blanks = ["data_mle/quality.py::psi"]          # module path :: qualified name
checks = ["tests/data_mle/test_quality.py::test_psi_is_zero_for_equal_distributions"]
figure = "What PSI did the shifted hours get?" # the question the check's figure answers
patch = "solution.patch"        # extension exercises only: the reference solution
new_tests = ["tests/data_mle/test_late_share.py"]  # test files the patch adds
slow = true                     # a check needs Spark, servers or the browser (180 s, not 90)

[hints]                         # printed under a failing check
"tests/data_mle/test_quality.py::test_psi_is_zero_for_equal_distributions" = "..."
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
ARCHETYPES = ("data", "infra", "model", "fullstack")
MANIFEST = "exercise.toml"


class ManifestError(ValueError):
    """A manifest that cannot be used: the message says which file and what is wrong."""


@dataclass(frozen=True)
class Exercise:
    id: str
    folder: Path  # exercises/<id>/: the README, the manifest and any patch
    title: str
    archetype: str
    minutes: int
    blanks: tuple[str, ...]
    checks: tuple[str, ...]
    figure: str
    hints: dict[str, str] = field(default_factory=dict)
    patch: str | None = None
    new_tests: tuple[str, ...] = ()
    slow: bool = False

    @property
    def readme(self) -> str:
        return f"exercises/{self.id}/README.md"

    @property
    def branch(self) -> str:
        return f"exercise/{self.id}"

    @property
    def is_extension(self) -> bool:
        """An extension adds code main does not have; its solution is a patch, not main."""
        return self.patch is not None

    @property
    def check_limit_s(self) -> int:
        """How long each check may take on 2 cores (the issue's budget)."""
        return 180 if self.slow else 90

    def patch_text(self) -> str | None:
        return None if self.patch is None else (self.folder / self.patch).read_text()


def _strings(raw: dict, key: str, where: Path, required: bool = True) -> tuple[str, ...]:
    value = raw.get(key, [] if not required else None)
    if value is None:
        raise ManifestError(f"{where}: '{key}' is missing")
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ManifestError(f"{where}: '{key}' must be a list of non-empty strings")
    return tuple(value)


def load(exercise_id: str, base: Path = EXERCISES) -> Exercise:
    """Read one exercise's manifest, checking every field a tool relies on."""
    if not re.fullmatch(r"[a-z]+-[0-9]+", exercise_id):
        raise ManifestError(f"'{exercise_id}' is not an exercise id (like data-1): make exercises")
    where = base / exercise_id / MANIFEST
    if not where.is_file():
        known = ", ".join(e.id for e in load_all(base)) or "none"
        raise ManifestError(f"no exercise '{exercise_id}' ({where} is missing); known: {known}")
    try:
        raw = tomllib.loads(where.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{where}: not valid TOML: {error}") from None
    unknown = set(raw) - ({f.name for f in fields(Exercise)} - {"id", "folder"})
    if unknown:
        raise ManifestError(f"{where}: unknown keys {sorted(unknown)}")
    archetype = raw.get("archetype")
    if archetype not in ARCHETYPES or not exercise_id.startswith(f"{archetype}-"):
        raise ManifestError(
            f"{where}: archetype must be one of {ARCHETYPES} and prefix the id ({exercise_id})"
        )
    minutes = raw.get("minutes")
    if not isinstance(minutes, int) or not 5 <= minutes <= 120:
        raise ManifestError(f"{where}: 'minutes' must be a whole number from 5 to 120")
    for key in ("title", "figure"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise ManifestError(f"{where}: '{key}' must be a non-empty string")
    blanks = _strings(raw, "blanks", where)
    for blank in blanks:
        path, sep, name = blank.partition("::")
        if not sep or not path.endswith(".py") or not name:
            raise ManifestError(f"{where}: blank '{blank}' is not 'path/to/module.py::qualname'")
        if Path(path).is_absolute() or ".." in Path(path).parts:
            raise ManifestError(f"{where}: blank '{blank}' must name a file inside the repository")
    checks = _strings(raw, "checks", where)
    hints = raw.get("hints", {})
    if not isinstance(hints, dict) or set(hints) - set(checks):
        raise ManifestError(f"{where}: every [hints] key must be one of the checks")
    patch = raw.get("patch")
    if patch is not None and (not isinstance(patch, str) or "/" in patch or patch.startswith(".")):
        raise ManifestError(f"{where}: patch must be a file name in {where.parent}")
    if patch is not None and not (where.parent / patch).is_file():
        raise ManifestError(f"{where}: patch '{patch}' is not in {where.parent}")
    new_tests = _strings(raw, "new_tests", where, required=False)
    if new_tests and patch is None:
        raise ManifestError(f"{where}: new_tests come from the patch; name the patch")
    if not (where.parent / "README.md").is_file():
        raise ManifestError(f"{where.parent}: README.md is missing")
    return Exercise(
        id=exercise_id,
        folder=where.parent,
        title=raw["title"],
        archetype=archetype,
        minutes=minutes,
        blanks=blanks,
        checks=checks,
        figure=raw["figure"],
        hints=dict(hints),
        patch=patch,
        new_tests=new_tests,
        slow=bool(raw.get("slow", False)),
    )


def _order(exercise_id: str) -> tuple[int, int, str]:
    archetype, _, number = exercise_id.partition("-")
    rank = ARCHETYPES.index(archetype) if archetype in ARCHETYPES else len(ARCHETYPES)
    return rank, int(number) if number.isdigit() else 0, exercise_id


def load_all(base: Path = EXERCISES) -> list[Exercise]:
    """Every exercise, by archetype and then number (data-1, data-2, ..., fullstack-4)."""
    if not base.is_dir():
        return []
    ids = [p.parent.name for p in base.glob(f"*/{MANIFEST}")]
    return [load(i, base) for i in sorted(ids, key=_order)]
