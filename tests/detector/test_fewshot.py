"""The few-shot recipe (the default off the paper's backbone sets) and the paper's recipe, which must not move."""

from __future__ import annotations

import numpy as np
import pytest

from detector.fewshot import cell_weights, train_fewshot
from detector.head import SceneModel, load_model, save_model, score
from detector.metrics import binary_metrics
from detector.quality import model_cut
from detector.train import default_recipe, split_groups, train_head
from tests.detector.test_train import grouped_data


def test_default_recipe_is_the_papers_only_on_its_own_backbone_sets():
    assert default_recipe("paper") == "paper" and default_recipe("published") == "paper"
    assert default_recipe("offline") == "fewshot" and default_recipe("anything") == "fewshot"


def test_cell_weights_balance_labels_and_groups():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0])
    g = np.array([1, 1, 2, 3, 3, 3, 3, 4, 4])
    w = cell_weights(y, g)
    assert w[y == 1].sum() == pytest.approx(0.5) and w[y == 0].sum() == pytest.approx(0.5)
    assert w[g == 1].sum() == pytest.approx(w[g == 2].sum()) and w[g == 3].sum() == pytest.approx(w[g == 4].sum())


def test_fewshot_learns_stores_its_cut_and_smoothing_and_is_deterministic(tmp_path):
    x, y, g = grouped_data(n_groups=12)
    model, metrics = train_head(x, y, g, backbone_set="t", scene_type="k", image_dim=16, audio=True)
    card = model.card
    assert card["recipe"]["name"] == "fewshot-v1" and card["recipe"]["audio"] is True
    assert card["scoring"]["smooth_s"] == 3 and 0.5 <= card["scoring"]["cut"] < 1.0
    assert metrics["validation"]["f1"] == 1.0 and metrics["test"] is None
    assert {row["split"] for row in metrics["per_group"]} == {"cross-validation"}
    assert binary_metrics(y, score(x, model, runs=g) >= model_cut(card))["f1"] == 1.0
    again, _ = train_head(x, y, g, backbone_set="t", scene_type="k", image_dim=16, audio=True)
    np.testing.assert_array_equal(model.weight, again.weight)
    loaded = load_model(save_model(model, tmp_path / "m.safetensors"))
    assert loaded.card["scoring"] == card["scoring"]
    np.testing.assert_array_equal(score(x, loaded, runs=g), score(x, model, runs=g))


def test_fewshot_uses_the_image_part_only_unless_asked():
    x, y, g = grouped_data(n_groups=12)
    model, _ = train_head(x, y, g, backbone_set="t", scene_type="k", image_dim=16)
    assert np.all(model.weight[:, 16:] == 0) and np.any(model.weight[1, :16] != 0)
    assert model.card["recipe"]["audio"] is False


def test_only_the_audio_tells_the_labels_apart_then_image_only_cannot_learn_it():
    rng = np.random.default_rng(1)
    x, y, g = grouped_data(n_groups=12)
    x[:, :16] = rng.normal(size=(x.shape[0], 16))  # the picture says nothing; the "audio" columns do
    _, with_audio = train_head(x, y, g, backbone_set="t", scene_type="k", image_dim=16, audio=True)
    _, image_only = train_head(x, y, g, backbone_set="t", scene_type="k", image_dim=16)
    assert with_audio["validation"]["f1"] == 1.0 and image_only["validation"]["f1"] < 0.9


def test_augmented_seconds_train_but_are_not_measured():
    x, y, g = grouped_data(n_groups=12)
    augmented = np.r_[np.zeros(y.size, bool), np.ones(y.size, bool)]
    both = np.concatenate([x, x + 0.01])
    weight, bias, scoring, recipe, metrics = train_fewshot(
        both, np.r_[y, y], np.r_[g, g], image_dim=16, augmented=augmented,
        runs=np.r_[g, g + 10_000],
    )
    assert recipe["augmented_seconds"] == y.size
    assert metrics["validation"]["n_seconds"] == y.size and metrics["train"]["n_seconds"] == y.size


def test_too_few_groups_keep_cut_one_half_and_say_so():
    x, y, g = grouped_data(n_groups=3)
    model, metrics = train_head(x, y, g, backbone_set="t", scene_type="k", image_dim=16)
    assert model.card["scoring"]["cut"] == 0.5 and any("could not be calibrated" in w for w in metrics["warnings"])


def paper_reference(x, y, g, *, epochs=10, lr=1e-3, batch_size=64, seed=0):
    """The paper's recipe written out on its own: Adam, cross-entropy, the epoch with the best validation F1."""
    import torch

    split, _ = split_groups(y, g, seed=seed)
    train, validation = np.isin(g, split["train"]), np.isin(g, split["validation"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            generator = torch.Generator().manual_seed(seed)
            head = torch.nn.Linear(x.shape[1], 2)
            optimiser = torch.optim.Adam(head.parameters(), lr=lr)
            xt, yt = torch.from_numpy(x[train]), torch.from_numpy(y[train])
            best = None
            for _ in range(epochs):
                order = torch.randperm(len(yt), generator=generator)
                for start in range(0, len(order), batch_size):
                    batch = order[start:start + batch_size]
                    optimiser.zero_grad()
                    torch.nn.functional.cross_entropy(head(xt[batch]), yt[batch]).backward()
                    optimiser.step()
                weight, bias = head.weight.detach().numpy().copy(), head.bias.detach().numpy().copy()
                held = binary_metrics(y[validation], score(x[validation], SceneModel(weight, bias, {})) >= 0.5)
                quality = (held["f1"], held["accuracy"])
                if best is None or quality >= best[0]:
                    best = (quality, weight, bias)
    finally:
        torch.set_num_threads(threads)
    return best[1], best[2]


def test_paper_sets_train_exactly_the_papers_recipe_and_score_without_smoothing():
    rng = np.random.default_rng(2)
    x, y, g = grouped_data(n_groups=30, dim=640, shift=0.3, seed=2)
    x += rng.normal(size=x.shape).astype(np.float32)
    model, metrics = train_head(x, y, g, backbone_set="paper", scene_type="kissing")
    weight, bias = paper_reference(x, y.astype(np.int64), g)
    np.testing.assert_array_equal(model.weight, weight)
    np.testing.assert_array_equal(model.bias, bias)
    assert "scoring" not in model.card and model.card["recipe"]["name"] == "paper"
    assert model_cut(model.card) == 0.5 and metrics["best_epoch"] >= 1


def test_a_list_of_l2_strengths_is_chosen_from_by_cross_validation_and_recorded():
    x, y, g = grouped_data(n_groups=12, shift=0.5)
    model, _ = train_head(x, y, g, backbone_set="t", scene_type="k", image_dim=16, l2=[0.01, 100.0])
    recipe = model.card["recipe"]
    assert recipe["l2_chosen_from"] == [0.01, 100.0] and recipe["l2"] in (0.01, 100.0)
    ranking = recipe["l2_oof_average_precision"]
    assert ranking[str(recipe["l2"])] == max(ranking.values())
    fixed, _ = train_head(x, y, g, backbone_set="t", scene_type="k", image_dim=16)
    assert fixed.card["recipe"]["l2"] == 1.0 and fixed.card["recipe"]["l2_chosen_from"] == [1.0]
    with pytest.raises(ValueError, match="positive"):
        train_head(x, y, g, backbone_set="t", scene_type="k", image_dim=16, l2=0)
