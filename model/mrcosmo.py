"""MR-COSMO, assembled (Fig. 2): encoders -> DCMA -> multi-scale encoder-decoder ->
detection head -> Memory Module -> iterative binary classifier.

``MRCosmo.forward`` is the frame graph: one preprocessed frame and one query's text
features in, a dict of tensors out; only gathers, matmuls, attention, TopK and elementwise
ops, so it exports with a dynamic point count. Text encoding (``encode_text``) and
post-processing (``query3d.model.postprocess.decode``) stay outside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from query3d.config import ModelConfig
from query3d.model.alignment import DCMA, ImageEvidence
from query3d.model.decoder import MultiScaleEncoder, QueryDecoder, ScaleIndex
from query3d.model.encoders import (
    ImageEncoder,
    PointCloudEncoder,
    PointCloudFeatures,
    TextEncoder,
    TextFeatures,
    gather_pixel_features,
)
from query3d.model.encoders.gather import exporting, masked_mean, take_rows
from query3d.model.heads import (
    DetectionHead,
    LanguageGuidedSelection,
    MaskHead,
    SemanticHead,
    SlotScorer,
    SuperpointPooling,
    SuperpointStats,
    colour_histogram,
    phrase_evidence,
    pool_superpoints,
    slot_evidence,
)
from query3d.model.losses import MemoryItems
from query3d.model.memory import MemoryRecall
from query3d.model.preprocess import FrameInputs
from query3d.model.validation import validate_inputs
from query3d.registry import Registry

MODEL_REGISTRY = Registry("model")

# What a deployed frame graph returns (the rest of ``forward``'s dict feeds training).
EXPORT_OUTPUTS = ("box_center", "box_size", "box_yaw", "ref_logit", "class_logits", "mask_logits",
                  "slot_relevance", "slot_logit")


@dataclass
class FrameEncoding:
    """What the text-free encoders make of one frame (f_point, f_voxel, image evidence):
    computed once per cloud, so a further command on it runs only the text-dependent part
    (DCMA onwards)."""

    cloud: PointCloudFeatures
    evidence: ImageEvidence | None
    semantic: torch.Tensor | None = None  # (S, text_dim) superpoint embeddings, when asked
    point_context: torch.Tensor | None = None  # (N, align_dim) DCMA's text-free share
    colour_bins: torch.Tensor | None = None  # (S, HISTOGRAM) unit colour bins, when asked


@MODEL_REGISTRY.register("mrcosmo")
class MRCosmo(nn.Module):
    """The full network for one scene and one query.

    ``text_encoder``: True builds it from ``cfg.text_encoder``; an existing ``TextEncoder``
    is reused (tests, several models sharing one); None leaves it out (``encode_text`` then
    refuses). A frozen text encoder is held outside the module tree, so its weights (loaded
    from their own folder) stay out of checkpoints and ``parameters()``.
    """

    def __init__(self, cfg: ModelConfig, text_encoder: TextEncoder | bool | None = True) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.cloud = PointCloudEncoder(cfg)
        self.image = ImageEncoder(cfg) if cfg.use_images else None
        self.text_proj = nn.Linear(cfg.text_dim, d)
        self.dcma = DCMA(d, cfg.align_dim, cfg.text_dim, d if cfg.use_images else 0, cfg.ssm,
                         cfg.ssm_state, enabled=cfg.use_dcma)
        self.fuse = nn.Sequential(nn.LayerNorm(2 * d), nn.Linear(2 * d, d))
        self.encoder = MultiScaleEncoder(d, cfg.heads, cfg.encoder_layers, len(cfg.voxel_scales),
                                         cfg.dropout)
        self.selection = LanguageGuidedSelection(d, cfg.heads, cfg.num_queries, cfg.dropout,
                                                 text_matching=cfg.text_matching,
                                                 spread=cfg.selection_spread,
                                                 plain=cfg.selection_plain)
        self.decoder = QueryDecoder(d, cfg.heads, cfg.decoder_layers, cfg.dropout)
        self.detection = DetectionHead(d, cfg.num_classes, cfg.box_size_prior)
        self.memory = MemoryRecall(d, cfg.heads, cfg.memory_capacity, cfg.memory_tau,
                                   use_banks=cfg.use_memory)
        self.mask_head = MaskHead(d, cfg.mask_margin, cfg.mask_box_softness, cfg.mask_refine_iters)
        self.superpoints = (SuperpointPooling(d, d if cfg.use_images else 0)
                            if cfg.use_superpoints else None)
        if cfg.semantic_head and not cfg.use_superpoints:
            raise ValueError("model.semantic_head labels superpoints: it needs "
                             "model.use_superpoints: true")
        self.semantic = (SemanticHead(d, d if cfg.use_images else 0, cfg.text_dim)
                         if cfg.semantic_head else None)
        if cfg.slot_scorer and not cfg.semantic_head:
            raise ValueError("model.slot_scorer reads the semantic head: it needs "
                             "model.semantic_head: true")
        self.slot_scorer = (SlotScorer(d, cfg.text_dim,
                                       cfg.num_classes + len(cfg.slot_scorer_words),
                                       members=cfg.slot_scorer_members,
                                       relations=cfg.slot_scorer_relations,
                                       peers=cfg.slot_scorer_peers,
                                       colour_namer=cfg.slot_scorer_colour_namer,
                                       colour_histogram=cfg.slot_scorer_colour_histogram)
                            if cfg.slot_scorer else None)
        if text_encoder is True:
            text_encoder = TextEncoder(cfg)
        elif text_encoder is False:
            text_encoder = None
        self.__dict__["_frozen_text_encoder"] = None
        if text_encoder is not None and not text_encoder.frozen:
            self.text_encoder = text_encoder  # trained: part of the module and checkpoints
        else:
            self.__dict__["_frozen_text_encoder"] = text_encoder

    # ----------------------------------------------------------------- text side
    def text_module(self) -> TextEncoder | None:
        if "text_encoder" in self._modules:
            return self._modules["text_encoder"]
        return self.__dict__["_frozen_text_encoder"]

    def encode_text(self, texts: str | list[str]) -> TextFeatures:
        """Tokenise and encode commands (outside the frame graph; cache per string)."""
        encoder = self.text_module()
        if encoder is None:
            raise ValueError("this MRCosmo was built without a text encoder (text_encoder=None)")
        device = self.text_proj.weight.device
        if next(encoder.parameters()).device != device:
            encoder.to(device)
        return encoder(texts, phrases=self.cfg.slot_scorer_relations)

    # ----------------------------------------------------------------- frame graph
    def _image_evidence(self, frame: FrameInputs) -> ImageEvidence | None:
        if self.image is None or frame.images is None:
            return None
        fmap = self.image(frame.images)  # (C, d, h, w)
        global_feat = fmap.mean(dim=(0, 2, 3))[None]
        if frame.pix_uv is None or frame.pix_valid is None:
            return ImageEvidence(global_feat)
        _, point_feat = gather_pixel_features(fmap, frame.pix_uv, frame.pix_valid)
        return ImageEvidence(global_feat, point_feat, frame.pix_valid.any(dim=1))

    def _seeds(self, seeds: torch.Tensor) -> torch.Tensor:
        """Repeat the seeds of a cloud with fewer than K points so every slot has one."""
        k = self.cfg.num_queries
        if seeds.shape[0] >= k:
            return seeds
        return seeds.repeat((k + seeds.shape[0] - 1) // seeds.shape[0])[:k]

    def encode_frame(self, frame: FrameInputs) -> FrameEncoding:
        """The text-free half of the graph: point, voxel and image encoders."""
        cloud = self.cloud(frame)
        return FrameEncoding(cloud, self._image_evidence(frame),
                             point_context=self.dcma.point_context(cloud.point, frame.knn))

    def semantic_stats(self, frame: FrameInputs,
                       encoding: FrameEncoding | None = None) -> SuperpointStats:
        """The text-free features (f_point + every scale's f_voxel, image evidence) pooled
        into the frame's superpoints: what the semantic head reads."""
        if frame.superpoint_members is None:
            raise ValueError("semantic labels need a frame with superpoints "
                             "(model.use_superpoints)")
        if encoding is None:
            encoding = self.encode_frame(frame)
        feats, evidence = encoding.cloud, encoding.evidence
        point = feats.point
        for voxel, point2voxel in zip(feats.voxel, frame.point2voxel):
            point = point + take_rows(voxel, point2voxel)
        image = visible = None
        if evidence is not None and evidence.point_feat is not None:
            image, visible = evidence.point_feat, evidence.point_visible
        return pool_superpoints(point, frame.xyz, frame.rgb, frame.superpoint_members,
                                image, visible)

    def label(self, frame: FrameInputs, class_embeddings: torch.Tensor,
              encoding: FrameEncoding | None = None,
              use_image: bool = True) -> dict[str, torch.Tensor]:
        """Open-vocabulary semantic logits for one frame and C class-name embeddings
        (unit rows, ``heads.semantic.class_embeddings_from_prompts``): superpoint_logits
        (S, C) and semantic_logits (N, C), a point's row being its superpoint's."""
        if self.semantic is None:
            raise ValueError("this network has no semantic head (model.semantic_head); "
                             "train one with `query3d train --task semantic`")
        stats = self.semantic_stats(frame, encoding)
        logits = self.semantic.logits(self.semantic(stats, use_image), class_embeddings)
        return {"superpoint_logits": logits, "semantic_logits": take_rows(logits, frame.superpoint)}

    def superpoint_semantics(self, frame: FrameInputs, encoding: FrameEncoding) -> torch.Tensor:
        """(S, text_dim) unit embeddings of the frame's superpoints (kept in ``encoding``:
        text-free, so once per cloud)."""
        if encoding.semantic is None:
            use_image = self.cfg.use_images
            encoding.semantic = self.semantic(self.semantic_stats(frame, encoding), use_image)
        return encoding.semantic

    def slot_evidence(self, frame: FrameInputs, encoding: FrameEncoding, text: TextFeatures,
                      queries: torch.Tensor, out: dict[str, torch.Tensor],
                      masks: dict[str, torch.Tensor], text_vec: torch.Tensor,
                      unit_xyz: torch.Tensor, unit_rgb: torch.Tensor) -> torch.Tensor:
        """What the slot scorer reads (``heads.slot_scorer.slot_evidence``); ``masks`` over
        the superpoints."""
        return slot_evidence(queries, masks["box_feat"], text_vec, out["ref_logit"],
                             out["slot_relevance"], masks["mask_logits"],
                             self.superpoint_semantics(frame, encoding), text.pooled[:1],
                             self.slot_scorer.names, self.semantic.logit_scale.exp(),
                             unit_xyz, unit_rgb, frame.rgb.mean(0), frame.origin,
                             self.slot_scorer.colour_names, self._phrase_evidence(text),
                             self._unit_histogram(frame, encoding))

    def _unit_histogram(self, frame: FrameInputs, encoding: FrameEncoding
                        ) -> torch.Tensor | None:
        """Each unit's colour bins for a scorer that reads them (``colour_histogram``):
        the mean over a superpoint's points, or a point's own (kept in ``encoding``:
        text-free, so once per cloud)."""
        if not self.slot_scorer.histogram:
            return None
        if encoding.colour_bins is None:
            bins = colour_histogram(frame.rgb, frame.rgb.mean(0))
            encoding.colour_bins = bins if self.superpoints is None \
                else masked_mean(bins, frame.superpoint_members)
        return encoding.colour_bins

    def _phrase_evidence(self, text: TextFeatures) -> torch.Tensor | None:
        """The command's phrase evidence for a scorer that reads relations (``forward``'s
        input validation has checked that the text carries its phrases)."""
        if not self.slot_scorer.relations:
            return None
        return phrase_evidence(text.phrases[0], text.relation[:1], self.slot_scorer.names,
                               self.slot_scorer.colour_names)

    def forward(
        self, frame: FrameInputs | dict[str, torch.Tensor], text: TextFeatures,
        encoding: FrameEncoding | None = None,
    ) -> dict[str, torch.Tensor]:
        """One frame, one query (``text`` batch of 1) -> named tensors; K slots, N points.

        box_center (K, 3) in the frame's centred coordinates, box_size (K, 3), box_yaw (K,),
        box_yaw_vec (K, 2), ref_logit (K,), slot_relevance (K,), class_logits (K, C),
        mask_logits (K, N), mask_logits_passes (R+1, K, N), seed_logits (S,), seed_points
        (S,), point_feat (N, d), box_feat (K, d), memory_text (1, d); with DCMA on:
        text_emb (1, d) and dcma_logit_scale, and image_emb (1, d) when the frame has
        images. ``encoding``: this frame's ``encode_frame`` from an earlier query (reused,
        not recomputed).
        """
        if isinstance(frame, dict):
            frame = FrameInputs.from_dict(frame)
        if not exporting():
            validate_inputs(frame, text, self.cfg)
        if encoding is None:
            encoding = self.encode_frame(frame)
        feats, evidence = encoding.cloud, encoding.evidence
        aligned = self.dcma(feats.point, frame.knn, feats.voxel[0], frame.kmap,
                            frame.voxel_members[0], frame.point2voxel[0], text.pooled[:1],
                            evidence, encoding.point_context)
        tokens = self.text_proj(text.tokens[0])
        text_bias = torch.where(text.mask[0], 0.0, float("-inf")).to(tokens.dtype)[None]
        text_vec = self.text_proj(text.pooled[:1])
        scales = [ScaleIndex(m, p, c) for m, p, c in
                  zip(frame.voxel_members, frame.point2voxel, frame.voxel_center)]
        x, scale_tokens, scale_pos = self.encoder(self.fuse(aligned.f_align), scales, tokens,
                                                  text_bias, feats.voxel)
        if self.superpoints is not None:  # slots and masks over superpoints
            sp = self.superpoints(x, frame.xyz, frame.rgb, frame.superpoint_members,
                                  *((evidence.point_feat, evidence.point_visible)
                                    if evidence is not None else (None, None)))
            units, unit_xyz, unit_rgb = sp.tokens, sp.center, sp.colour
            candidates = torch.arange(units.shape[0], device=units.device)
        else:  # slots from FPS seed points, masks over points
            units, unit_xyz, candidates = x, frame.xyz, self._seeds(frame.seeds)
            unit_rgb = frame.rgb
        sel = self.selection(units, unit_xyz, candidates, tokens, text_bias, text_vec)
        queries = self.decoder(sel.queries, sel.anchors, tokens, text_bias, scale_tokens,
                               scale_pos)
        out = self.detection(queries, sel.anchors, text_vec)
        masks = self.mask_head(units, unit_xyz, queries, out, text_vec, self.memory)
        seed_points = sel.seed_points
        # each slot's mask-weighted mean relevance of the candidates it covers: the
        # sentence's say in a slot's score (decision.slot_score)
        over_seeds = masks["mask_logits"] if self.superpoints is not None \
            else masks["mask_logits"][:, seed_points]
        weight = torch.sigmoid(over_seeds)
        out["slot_relevance"] = (weight * torch.sigmoid(sel.seed_logits)[None]).sum(-1) \
            / weight.sum(-1).clamp_min(1e-6)
        out["slot_logit"] = out["ref_logit"]  # without a scorer: the referred score
        if self.slot_scorer is not None:
            out["slot_evidence"] = self.slot_evidence(frame, encoding, text, queries, out,
                                                      masks, text_vec, unit_xyz, unit_rgb)
            out["slot_logit"] = self.slot_scorer(out["slot_evidence"])
        if self.superpoints is not None:  # a superpoint's logit is each of its points'
            masks["mask_logits_passes"] = masks["mask_logits_passes"].index_select(
                -1, frame.superpoint)
            masks["mask_logits"] = masks["mask_logits"].index_select(-1, frame.superpoint)
            seed_points = sp.seed_points
        out.update(masks)
        out.update(seed_logits=sel.seed_logits, seed_points=seed_points, point_feat=x,
                   memory_text=text_vec)
        if aligned.text_emb is not None:
            out["text_emb"] = aligned.text_emb
            out["dcma_logit_scale"] = self.dcma.constraints.logit_scale
        if aligned.image_emb is not None:
            out["image_emb"] = aligned.image_emb
        if not self.training and self.cfg.memory_update_at_inference and not exporting():
            self.update_memory_from_prediction(out)
        return out

    # ----------------------------------------------------------------- memory writes
    def update_memory(self, items: MemoryItems | None) -> None:
        """Store a training step's matched feature pairs (``LossOutput.memory_items``)."""
        if items is not None and self.cfg.use_memory:
            self.memory.bank.update(items.text, items.visual, items.category, items.bce)

    @torch.no_grad()
    def update_memory_from_prediction(self, raw: dict[str, torch.Tensor]) -> None:
        """Inference-time write (``memory_update_at_inference``): no labels, so a fired
        slot's L_BCE is measured against its own thresholded mask (a confidence)."""
        fired = torch.sigmoid(raw["ref_logit"]) > self.cfg.memory_update_score
        if not self.cfg.use_memory or not bool(fired.any()):
            return
        logits = raw["mask_logits"][fired]
        bce = F.binary_cross_entropy_with_logits(
            logits, (logits > 0).to(logits.dtype), reduction="none").mean(-1)
        k = int(fired.sum())
        self.update_memory(MemoryItems(raw["memory_text"].expand(k, -1), raw["box_feat"][fired],
                                       raw["class_logits"][fired].argmax(-1), bce))


def build_model(cfg: ModelConfig, **kwargs: object) -> nn.Module:
    """The network named by ``cfg.arch`` (``MODEL_REGISTRY``)."""
    return MODEL_REGISTRY.build(cfg.arch, cfg, **kwargs)


def parameter_counts(model: MRCosmo) -> dict[str, int]:
    """Trainable and total parameters, with and without the text encoder."""
    own = sum(p.numel() for p in model.parameters())
    text = model.text_module()
    text_count = sum(p.numel() for p in text.parameters()) if text is not None else 0
    in_tree = "text_encoder" in model._modules
    return {
        "without_text_encoder": own - (text_count if in_tree else 0),
        "with_text_encoder": own + (0 if in_tree else text_count),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }
