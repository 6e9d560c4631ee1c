"""One training step of MR-COSMO over a batch of (scene, query) samples.

The network takes one scene and one query per forward, so the step loops over the batch
and averages the per-sample task losses (Eq. 12). Each sample is normalised on its own,
so N processes with equal shares of a global batch average to exactly what one process
computes on the whole batch. Two things couple the samples:

* L_DCMA (Eq. 14) contrasts image-text pairs of the *global* batch, at most one pair per
  scene (the paper's rule: two queries of one scene share the image, so they would be
  "negatives" of each other's identical image). Pairs are gathered over ranks with
  gradient; every rank computes the same loss.
* Memory-bank writes (Eq. 8-11) happen after the optimiser step: every rank gathers all
  ranks' feature pairs, orders them by sample index and applies the same update, so the
  banks stay identical everywhere (and identical to a single process).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from query3d.config import Config
from query3d.model.alignment.constraints import symmetric_cross_entropy
from query3d.model.encoders import TextFeatures
from query3d.model.losses import MemoryItems, MRCosmoLoss, QueryTargets
from query3d.model.mrcosmo import FrameEncoding
from query3d.model.preprocess import FrameInputs
from query3d.model.runtime.text_cache import TextFeatureCache
from query3d.training.trainer.data import TrainItem
from query3d.training.trainer.distributed import gather_objects, gather_with_grad

TEXT_CACHE_SIZE = 1024


@dataclass
class _Pair:
    index: int
    scene_id: str
    image_emb: torch.Tensor  # (1, d)
    text_emb: torch.Tensor  # (1, d)


def _targets_to(targets: QueryTargets, device: torch.device) -> QueryTargets:
    return QueryTargets(targets.masks.to(device), targets.box_center.to(device),
                        targets.box_size.to(device), targets.box_yaw.to(device),
                        targets.classes.to(device))


class ReferringObjective(nn.Module):
    def __init__(self, model: nn.Module, cfg: Config) -> None:
        super().__init__()
        self.model = model
        self.cfg = cfg
        self.loss_fn = MRCosmoLoss(cfg.loss, cfg.model.num_classes)
        self.contrastive = cfg.model.use_dcma and cfg.model.use_images
        self._pending: list[tuple[int, MemoryItems]] = []
        self._text_cache: TextFeatureCache[TextFeatures] = TextFeatureCache(
            self._encode_frozen, TEXT_CACHE_SIZE)

    def _encode_frozen(self, text: str) -> TextFeatures:
        with torch.no_grad(), torch.autocast(self.device.type, enabled=False):
            return self.model.encode_text(text)

    def encode_text(self, text: str) -> TextFeatures:
        """Per sentence (no padding shared with other samples); cached when frozen."""
        if not self.cfg.model.freeze_text:
            return self.model.encode_text(text)
        return self._text_cache(text)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def forward(self, batch: list[TrainItem]) -> dict[str, torch.Tensor]:
        if not batch:
            raise ValueError("empty batch")
        device = self.device
        totals: list[torch.Tensor] = []
        sums: dict[str, torch.Tensor] = {}
        pairs: list[_Pair] = []
        self._pending = []
        encoded: dict[int, tuple[FrameInputs, FrameEncoding]] = {}
        for item in batch:  # queries of one scene share its frame and its encoding
            targets = _targets_to(item.targets, device)
            if id(item.frame) not in encoded:
                frame = item.frame.to(device)
                encode = getattr(self.model, "encode_frame", None)
                encoded[id(item.frame)] = (frame, encode(frame) if encode else None)
            frame, encoding = encoded[id(item.frame)]
            raw = self.model(frame, self.encode_text(item.sample.query.text), encoding=encoding)
            out = self.loss_fn([raw], [targets])  # one sample: its own L_DCMA is 0
            totals.append(out.total)
            for key, value in out.terms.items():
                if key != "dcma":
                    sums[key] = sums.get(key, 0.0) + value.detach().float()
            if out.memory_items is not None:
                self._pending.append((item.index, out.memory_items))
            if "image_emb" in raw and "text_emb" in raw and targets.num_targets > 0:
                pairs.append(_Pair(item.index, item.sample.scene.scene_id, raw["image_emb"],
                                   raw["text_emb"]))
        terms = {k: v / len(batch) for k, v in sums.items()}
        task = torch.stack(totals).mean()
        dcma = self._global_dcma(pairs) if self.contrastive else task.new_zeros(())
        terms["dcma"] = dcma.detach()
        terms["loss"] = task + dcma
        return terms

    def _global_dcma(self, pairs: list[_Pair]) -> torch.Tensor:
        """Eq. 14 over the global batch, keeping each scene's lowest-index pair."""
        meta = gather_objects([(p.index, p.scene_id) for p in pairs])
        # the same row count on every rank (the gather needs it), whatever each one holds
        rows = max(1, max(len(rank_pairs) for rank_pairs in meta))
        first: dict[str, int] = {}
        for rank_pairs in meta:
            for index, scene_id in rank_pairs:
                first[scene_id] = min(first.get(scene_id, index), index)
        kept_per_rank = [sum(first[s] == i for i, s in rank_pairs) for rank_pairs in meta]
        kept = [p for p in pairs if first[p.scene_id] == p.index]
        scale = self.model.dcma.constraints.logit_scale
        d = self.cfg.model.dim
        pad = scale.new_zeros(rows - len(kept), d)
        # "+ 0 * scale": the padded block requires grad on every rank, so every rank
        # takes part in the gather's backward even when it holds no pair this step.
        image = torch.cat([p.image_emb.float() for p in kept] + [pad]) + 0.0 * scale
        text = torch.cat([p.text_emb.float() for p in kept] + [pad]) + 0.0 * scale
        image, text = gather_with_grad(image), gather_with_grad(text)
        valid = torch.cat([torch.arange(n, device=image.device) + r * rows
                           for r, n in enumerate(kept_per_rank)])
        loss = self.cfg.loss
        return symmetric_cross_entropy(image[valid], text[valid], scale, loss.gamma,
                                       loss.delta, loss.sce_log_zero)

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        """Write this step's feature pairs of every rank into the memory banks."""
        if not self.cfg.model.use_memory:
            self._pending = []
            return
        local = [(i, MemoryItems(m.text.float().cpu(), m.visual.float().cpu(), m.category.cpu(),
                                 m.bce.float().cpu())) for i, m in self._pending]
        self._pending = []
        everything = sorted((entry for rank in gather_objects(local) for entry in rank),
                            key=lambda entry: entry[0])
        if not everything:
            return
        device = self.device
        items = [m for _, m in everything]
        self.model.update_memory(MemoryItems(
            torch.cat([m.text for m in items]).to(device),
            torch.cat([m.visual for m in items]).to(device),
            torch.cat([m.category for m in items]).to(device),
            torch.cat([m.bce for m in items]).to(device)))
