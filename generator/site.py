"""Where docgen reads and writes: content, templates, published outputs, cache, proposals and storage roots."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from generator import settings
from generator.settings import Settings

FOLDERS = ("content", "templates", "outputs", "cache", "proposals", "storage")  # each also a field of Settings (DOCGEN_<NAME>)


def _checkout() -> Path | None:
    """The repository this package runs from, when it runs from a checkout (content/ beside generator/)."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "content").is_dir() and (root / "templates").is_dir() else None


@dataclass(frozen=True)
class Site:
    """The folders of one docgen installation; every API function takes one, nothing keeps a root of its own.

    ``outputs`` holds the published outputs and their manifest; ``cache`` the brochure and static pages laid out
    once per content version; ``proposals`` the agents' packs; ``storage`` the portal's archived files.

    >>> s = Site.at(Path("/srv/docgen"))
    >>> s.content, s.cache, s.proposals
    (PosixPath('/srv/docgen/content'), PosixPath('/srv/docgen/outputs/.cache'), PosixPath('/srv/docgen/outputs/proposals'))
    """

    content: Path
    templates: Path
    outputs: Path
    cache: Path
    proposals: Path
    storage: Path

    @classmethod
    def at(cls, root: Path) -> Site:
        """The standard layout under one folder (a checkout of this repository, or a deployment's folder)."""
        root = Path(root)
        outputs = root / "outputs"
        return cls(root / "content", root / "templates", outputs, outputs / ".cache", outputs / "proposals", root / "storage")

    @classmethod
    def from_env(cls, chosen: Settings | None = None, **overrides: str | Path | None) -> Site:
        """Options (``overrides``, None meaning not given) over the ``DOCGEN_*`` folder settings (``chosen``, default:
        :func:`generator.settings.current`) over the default layout.

        The default layout is the checkout docgen runs from, or the current folder for an installed docgen.
        A relative path is taken from the current folder.
        """
        chosen = chosen or settings.current()
        base = cls.at(_checkout() or Path.cwd())
        values: dict[str, Path] = {}
        for name in FOLDERS:
            given: str | Path | None = overrides.get(name)
            if given is None:
                given = getattr(chosen, name)
            if given is not None:
                values[name] = Path(given).expanduser().absolute()
        site = replace(base, **values)
        # a moved outputs folder takes its cache and proposals along unless they were set themselves
        if "outputs" in values:
            site = replace(site, cache=values.get("cache", site.outputs / ".cache"), proposals=values.get("proposals", site.outputs / "proposals"))
        return site

    def with_outputs(self, outputs: Path) -> Site:
        """The same site publishing into ``outputs`` (the drift check builds into a temp folder this way)."""
        return replace(self, outputs=Path(outputs))
