"""The shipped grids: demo-first.toml is the first screen of demo.toml, so its cells are demo.toml's cells."""

from core.encoders import resolve_spec
from core.paths import REPO_ROOT
from core.pipeline import load_grid

GRIDS = REPO_ROOT / "precompute" / "grids"


def test_first_screen_is_a_subset_of_the_demo_grid():
    full, first = load_grid(GRIDS / "demo.toml"), load_grid(GRIDS / "demo-first.toml")
    # Same queries and corpora: otherwise the first screen's cells would not count for the full grid.
    for attr in ("dataset", "path", "modes", "languages", "max_queries", "top_k"):
        assert getattr(first, attr) == getattr(full, attr), attr
    for attr in ("encoders", "noise", "levels", "seeds"):
        assert set(getattr(first, attr)) <= set(getattr(full, attr)), attr
    # The first screen must show a multilingual encoder on low-resource languages.
    assert "e5-small" in first.encoders and {"amh", "swh", "xho"} <= set(first.languages)
    assert 0.1 in first.levels and 0.2 in first.levels


def test_every_shipped_grid_names_registered_encoders():
    for path in GRIDS.glob("*.toml"):
        for name in load_grid(path).encoders:
            assert resolve_spec(name)["kind"], (path.name, name)
