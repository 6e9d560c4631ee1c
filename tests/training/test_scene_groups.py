"""train.queries_per_scene: queries of one scene share its augmentation, preprocessing and
text-free encoding in a step, and the loss is what answering them one by one gives."""

from __future__ import annotations

import pytest
import torch
from tiny_scenes import tiny_config, tiny_samples

from query3d.model.mrcosmo import build_model
from query3d.training.trainer import Trainer
from query3d.training.trainer.data import TrainingSet, prepare_sample
from query3d.training.trainer.groups import SceneGroups, scene_key
from query3d.training.trainer.objective import ReferringObjective
from query3d.training.trainer.run import MixedSamples, SpreadSubset, seed_everything


class Queries(list):
    """Samples that can tell their scene without loading it, like the real datasets."""

    class_names = ["box", "mug", "bowl", "plate"]

    def scene_of(self, index: int) -> str:
        return self[index].scene.scene_id


SAMPLES = Queries(tiny_samples(4, seed=0))  # three queries per scene


def test_groups_hold_queries_of_one_scene_and_cover_each_once() -> None:
    groups = SceneGroups(SAMPLES, per_scene=2)
    assert len(groups) == 8  # 4 scenes x (2 + 1)
    assert sorted(i for g in groups for i in g) == list(range(len(SAMPLES)))
    for group in groups:
        assert 1 <= len(group) <= 2
        assert len({SAMPLES[i].scene.scene_id for i in group}) == 1
    assert [len(g) for g in SceneGroups(list(SAMPLES), 3)] == [1] * len(SAMPLES)  # no scene_of
    with pytest.raises(ValueError, match="per_scene"):
        SceneGroups(SAMPLES, 0)


def test_mixed_and_spread_samples_tell_the_scene() -> None:
    mixed = MixedSamples([(SAMPLES, 1), (Queries(SAMPLES[:3]), 2)])
    keys = [scene_key(mixed, i) for i in range(len(mixed))]
    assert keys[0] == keys[1] == keys[2] != keys[3]
    assert keys[-6:-3] != keys[-3:]  # each repeat of a source is its own group
    spread = SpreadSubset(SAMPLES, 6)
    assert [scene_key(spread, i) for i in range(6)] == [
        SAMPLES[int(j)].scene.scene_id for j in spread.index]


def test_grouped_step_encodes_each_scene_once_and_keeps_the_loss() -> None:
    cfg = tiny_config(queries_per_scene=3, batch_size=2)
    cfg.model.dropout = 0.0
    seed_everything(0)
    model = build_model(cfg.model)
    objective = ReferringObjective(model, cfg).train()
    grouped = TrainingSet(SAMPLES, cfg)
    assert len(grouped) == 4
    items = grouped[0] + grouped[1]
    assert len({id(item.frame) for item in items}) == 2
    encoded = []
    model.cloud.register_forward_hook(lambda *_: encoded.append(1))
    together = objective(items)
    assert len(encoded) == 2  # one text-free encoding per scene, six queries answered
    one_by_one = [prepare_sample(SAMPLES[item.index], cfg, None) for item in items]
    separate = objective([type(item)(item.index, s, f, t)
                          for item, (s, f, t) in zip(items, one_by_one)])
    assert len(encoded) == 8
    for key in ("loss", "bce", "referred"):
        if key in together:
            torch.testing.assert_close(together[key], separate[key], atol=1e-5, rtol=1e-5)


def test_training_on_scene_groups_runs_its_steps(tmp_path) -> None:
    cfg = tiny_config(queries_per_scene=3, batch_size=2, epochs=1)
    seed_everything(0)
    model = build_model(cfg.model)
    trainer = Trainer(cfg, model, ReferringObjective(model, cfg), TrainingSet(SAMPLES, cfg),
                      tmp_path, hooks=[])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer.train()
    assert trainer.global_step == 2  # 4 scenes, 2 per step
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_train_max_samples_counts_scene_groups() -> None:
    cfg = tiny_config(queries_per_scene=3, train_max_samples=2)
    groups = TrainingSet(SAMPLES, cfg).groups
    assert len(groups) == 2 and all(len(g) == 3 for g in groups)
    assert {SAMPLES[g[0]].scene.scene_id for g in groups} == {
        SAMPLES[0].scene.scene_id, SAMPLES[-1].scene.scene_id}  # spread: first and last
