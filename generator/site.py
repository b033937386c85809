"""Where docgen reads and writes: content, templates, published outputs, cache, proposals and storage roots."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

# Environment variables a deployment sets instead of options; the CLI's options win over them.
ENV = {
    "content": "DOCGEN_CONTENT",
    "templates": "DOCGEN_TEMPLATES",
    "outputs": "DOCGEN_OUTPUTS",
    "cache": "DOCGEN_CACHE",
    "proposals": "DOCGEN_PROPOSALS",
    "storage": "DOCGEN_STORAGE",
}


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
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: str | Path | None) -> Site:
        """Options (``overrides``, None meaning not given) over ``DOCGEN_*`` variables over the default layout.

        The default layout is the checkout docgen runs from, or the current folder for an installed docgen.
        A relative path is taken from the current folder.
        """
        environ = os.environ if environ is None else environ
        base = cls.at(_checkout() or Path.cwd())
        values: dict[str, Path] = {}
        for name, var in ENV.items():
            given = overrides.get(name)
            if given is None:
                given = environ.get(var) or None
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
