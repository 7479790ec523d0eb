"""book/profiles.yml and _toc.yml are validated before anything runs, with the file, key and type named."""

from __future__ import annotations

import pytest

from sgdtails.runner.profiles import ConfigError, check_profile, load_config


def test_valid_config_loads(mini_book):
    config = load_config(mini_book)
    assert config.names == ["alpha", "beta"]
    assert config.seed == 7
    assert config.parameters_for("alpha", "smoke") == {"n": 1, "rate": 1}
    assert config.parameters_for("beta", "paper") == {}
    assert config.notebook("alpha").defaults["rate"] == 0.5


def test_the_real_book_config_is_valid(repo_root):
    config = load_config(repo_root)
    assert config.names, "no runnable chapter in _toc.yml"
    for profile in ("smoke", "default", "paper"):  # every chapter has a first-run expectation
        assert set(config.expected_seconds[profile]) == set(config.names), profile
    for name in config.names:
        for profile in ("smoke", "default", "paper"):
            config.parameters_for(name, profile)


@pytest.mark.parametrize(
    ("profiles_yml", "message"),
    [
        ("seed: 7\nnotebooks:\n  alpha:\n    smoke: {n: [1}\n", "malformed YAML"),
        ("- just\n- a list\n", "expected a mapping"),
        ("seed: 7\nnotebook: {}\n", "unknown top-level key"),
        ("seed: seven\nnotebooks: {}\n", "'seed' must be a non-negative int"),
        ("seed: 7\nnotebooks: [alpha]\n", "'notebooks' must be a mapping"),
        ("seed: 7\nnotebooks:\n  gamma: {smoke: {}}\n",
         "notebooks.gamma: unknown notebook; valid names: alpha, beta"),
        ("seed: 7\nnotebooks:\n  alpha: {quick: {}}\n", "unknown profile(s) ['quick']"),
        ("seed: 7\nnotebooks:\n  alpha: {smoke: {m: 1}}\n", "notebooks.alpha.smoke.m: unknown key"),
        ("seed: 7\nnotebooks:\n  alpha: {smoke: {n: 1.5}}\n",
         "notebooks.alpha.smoke.n: expected int, got float"),
        ("seed: 7\nnotebooks:\n  alpha: {smoke: {rate: '0.1'}}\n", "expected float, got str"),
        ("seed: 7\nnotebooks:\n  alpha: {smoke: {names: x}}\n", "expected list, got str"),
        ("seed: 7\nnotebooks:\n  alpha: {smoke: {seed: 1}}\n", "set by the pipeline"),
        ("seed: 7\nnotebooks:\n  alpha: {smoke: [1]}\n", "notebooks.alpha.smoke must be a mapping"),
        ("seed: 7\nafter: [beta]\nnotebooks: {}\n", "'after' must map chapter names"),
        ("seed: 7\nafter: {gamma: [alpha]}\nnotebooks: {}\n", "after.gamma: unknown notebook"),
        ("seed: 7\nafter: {alpha: [beta]}\nnotebooks: {}\n",
         "after.alpha: 'beta' is not a chapter before 'alpha' in _toc.yml; valid: none"),
        ("seed: 7\nafter: {beta: alpha}\nnotebooks: {}\n", "after.beta must be a list of chapter names"),
        ("seed: 7\nexpected_seconds: {fast: {alpha: 1}}\nnotebooks: {}\n",
         "expected_seconds.fast: unknown profile"),
        ("seed: 7\nexpected_seconds: {smoke: {gamma: 1}}\nnotebooks: {}\n",
         "expected_seconds.smoke.gamma: unknown notebook"),
        ("seed: 7\nexpected_seconds: {smoke: {alpha: -2}}\nnotebooks: {}\n",
         "expected_seconds.smoke.alpha must be a positive number of seconds, got -2"),
    ],
)
def test_bad_profiles_are_refused_naming_file_key_and_type(mini_book, profiles_yml, message):
    (mini_book / "book" / "profiles.yml").write_text(profiles_yml)
    with pytest.raises(ConfigError) as info:
        load_config(mini_book)
    assert message in str(info.value)
    assert "profiles.yml" in str(info.value)


def test_after_lists_earlier_chapters_and_star_means_every_earlier_one(mini_book):
    path = mini_book / "book" / "profiles.yml"
    path.write_text("seed: 7\nafter: {beta: [alpha]}\nnotebooks: {}\n")
    assert load_config(mini_book).after == {"beta": ("alpha",)}
    path.write_text("seed: 7\nafter: {beta: '*', alpha: '*'}\nnotebooks: {}\n")
    assert load_config(mini_book).after == {"beta": ("alpha",), "alpha": ()}


def test_unknown_profile_and_notebook_list_valid_names(mini_book):
    with pytest.raises(ConfigError, match="valid profiles: smoke, default, paper"):
        check_profile("fast")
    with pytest.raises(ConfigError, match="valid names: alpha, beta"):
        load_config(mini_book).notebook("gamma")


def test_toc_entry_without_source_is_refused(mini_book):
    (mini_book / "book" / "beta.py").unlink()
    with pytest.raises(ConfigError, match="no book/beta.py"):
        load_config(mini_book)


def test_parameters_cell_is_required(mini_book):
    path = mini_book / "book" / "beta.py"
    path.write_text(path.read_text().replace('tags=["parameters"]', ""))
    with pytest.raises(ConfigError, match="exactly one cell tagged 'parameters'"):
        load_config(mini_book)
