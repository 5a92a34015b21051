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
    """Every encoder of a shipped grid is registered, or is a model the trainer makes (the FLORES-200 study
    names simcse-noisy-e5 and typo-e5, which exist once the background job has trained them)."""
    from core.training import default_model_names

    trained = {n for base in ("minilm", "e5-small-torch") for n in default_model_names(base).values()}
    for path in GRIDS.glob("*.toml"):
        for name in load_grid(path).encoders:
            assert name in trained or resolve_spec(name)["kind"], (path.name, name)
    assert {"simcse-noisy-e5", "typo-e5"} <= trained


def test_grid_cells_are_the_clean_condition_plus_every_noisy_one():
    from core.conditions import CLEAN, CLEAN_NOISE
    from core.noise import list_noise_types
    from core.pipeline import CELL_COLUMNS, Grid, parse_grid

    grid = parse_grid(
        '[dataset]\nlanguages = ["amh", "xho"]\nmode = ["pair", "pooled"]\n[grid]\nencoders = ["muse3"]\n'
        'noise = ["delete", "substitute"]\nlevels = [0.2, 0.1]\nseeds = [0, 3]\n'
    )
    cells = grid.cells()
    assert len(cells) == len(set(cells)) == 2 * 2 * 1 * (1 + 2 * 2 * 2)
    assert all(len(c) == len(CELL_COLUMNS) for c in cells)
    assert ("tatoeba", "pooled", "xho", "muse3", *CLEAN) in cells
    assert ("tatoeba", "pair", "amh", "muse3", "substitute", 0.2, 3) in cells
    assert not [c for c in cells if c[4] == CLEAN_NOISE and c[5:] != (0.0, 0)]  # clean: once, level 0 seed 0
    assert Grid.from_dict(grid.to_dict()) == grid and Grid.from_dict(grid.to_dict()).cells() == cells
    # The stored clean name is the one the noise library accepts as its identity.
    assert set(list_noise_types()) - set(list_noise_types(include_none=False)) == {CLEAN_NOISE}
