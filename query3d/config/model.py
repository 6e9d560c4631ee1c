"""The network's sections: its architecture (``model``), what it is trained to minimise
(``loss``: loss weights and Hungarian matching costs) and how its outputs become answers
(``decision``). Plain data, see ``query3d.config``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ModelConfig:
    """Widths and depths of MR-COSMO; presets ``small`` and ``paper`` set these."""

    dim: int = 64  # n_d: width of point / voxel / fused features
    align_dim: int = 128  # D: shared space of the Bidirectional Direct Alignment Block
    point_mlp_layers: int = 2
    knn_k: int = 8  # neighbours per point for MeanPool (Eq. 3)
    voxel_size: float = 0.02  # metres, finest scale
    voxel_scales: list[int] = field(default_factory=lambda: [1, 2, 4])
    window_size: int = 4  # voxels per window side in the shifted-window transformer
    window_group_size: int = 32  # P: tokens per attention group (windows split / padded to P)
    voxel_member_cap: int = 16  # M: points kept per voxel for gather-based pooling
    voxel_stem_blocks: int = 1  # residual submanifold-conv blocks in the voxel stem
    sparse_backend: str = "torch"  # "torch" (gather-GEMM, exportable) or "spconv"
    num_seeds: int = 64  # FPS seed points (HCF-RES III-D), capped at the point count
    voxel_transformer_layers: int = 2
    heads: int = 4
    ssm: str = "lti"  # "lti" (Eq. 5-6) or "mamba" (selective scan)
    ssm_state: int = 16
    encoder_layers: int = 2
    decoder_layers: int = 2
    num_queries: int = 16  # K detection slots
    num_classes: int = 24  # the synthetic catalogue (training.data.synthetic CLASS_NAMES)
    text_encoder: str = ""  # local Hugging Face folder; "" = bundled all-MiniLM-L6-v2
    text_dim: int = 384
    freeze_text: bool = True
    max_text_tokens: int = 32
    image_encoder: str = "resnet50"
    image_checkpoint: str = ""  # local folder; "" = random init
    # ResNet layout (transformers ResNetConfig); paper = ResNet-50 (bottleneck, [3, 4, 6, 3])
    image_layer_type: str = "basic"
    image_embedding_size: int = 32
    image_hidden_sizes: list[int] = field(default_factory=lambda: [32, 64, 128, 256])
    image_depths: list[int] = field(default_factory=lambda: [1, 1, 1, 1])
    image_feature_stages: int = 3  # last stages fused (FPN-style): 3 of 4 = stride 8
    image_depth_tolerance: float = 0.05  # metres; |z - depth(u, v)| above this = occluded
    use_images: bool = True
    image_size: list[int] = field(default_factory=lambda: [240, 320])
    memory_capacity: int = 64
    memory_tau: float = 1.0
    memory_update_at_inference: bool = False
    memory_update_score: float = 0.5  # a slot this confident writes at inference
    mask_margin: float = 0.05
    mask_refine_iters: int = 2
    use_dcma: bool = True
    use_memory: bool = True
    # superpoints (HCF-RES Eq. 1): query selection, the detection slots' masks and the
    # memory's pooled features work on segments that follow object boundaries. False in
    # configs saved before they existed; the presets turn them on.
    use_superpoints: bool = False
    voxels_per_superpoint: int = 8  # finest voxels merged into one superpoint on average
    superpoint_member_cap: int = 48  # M: points kept per superpoint for gather pooling
    semantic_head: bool = False  # open-vocabulary labels per superpoint (XMask3D, issue 14)
    slot_scorer: bool = False  # slots scored from their evidence (heads.slot_scorer)
    slot_scorer_members: int = 1  # MLPs of different seeds whose logits are averaged
    # the scorer also reads the command's target / anchor phrases and relation
    # ("the box behind the red box"; encoders.phrases): two more text graph inputs
    slot_scorer_relations: bool = False
    # with relations: each slot's place and size also against the slots that match the
    # target's words ("the box on the left" is left of the other boxes, not of the mug)
    slot_scorer_peers: bool = False
    # a mask's colour named by a small learnt classifier over its as-seen and balanced Lab
    # (started on the training answers) instead of one balanced prototype per colour word
    slot_scorer_colour_namer: bool = False
    # the namer also reads the mask's colours binned (8 hues, 3 greys), not only their mean
    # (a printed box is not its mean colour); needs slot_scorer_colour_namer
    slot_scorer_colour_histogram: bool = False
    # words the scorer reads slots and commands against besides the class names: what
    # people call real tabletop objects that are no class here ("tin", "carton", "pot");
    # read as the semantic head reads any name (open vocabulary)
    slot_scorer_words: list[str] = field(default_factory=list)
    # candidates' relevance also from a direct match with the pooled sentence
    text_matching: bool = False
    # metres: each slot's seed passes over candidates this close to an earlier slot's
    # (0 = plain top-k); spreads the slots over the objects a sentence could mean
    selection_spread: float = 0.0
    selection_plain: int = 0  # with a spread: the first slots still plain top-k
    dropout: float = 0.0
    # --- network assembly and heads ---
    arch: str = "mrcosmo"  # MODEL_REGISTRY name (query3d.model.mrcosmo)
    box_size_prior: float = 0.2  # metres: box size a fresh detection slot starts from
    mask_box_softness: float = 0.01  # metres: edge width of the soft "inside box" test

    def __post_init__(self) -> None:
        if self.selection_spread < 0:
            raise ValueError(f"selection_spread must be >= 0 metres, got "
                             f"{self.selection_spread}")
        if not 0 <= self.selection_plain <= self.num_queries:
            raise ValueError(f"selection_plain must be in [0, num_queries], got "
                             f"{self.selection_plain}")
        words = [w.strip() for w in self.slot_scorer_words]
        if any(not w for w in words) or len(set(words)) != len(words):
            raise ValueError("slot_scorer_words must be distinct, non-empty words, got "
                             f"{self.slot_scorer_words}")


@dataclass
class LossConfig:
    """MR-COSMO Eq. 12-17 weights and the Hungarian matching costs that pair slots with
    targets. Training reads it; a served network never does."""

    alpha: float = 1.0  # Eq. 12-13 weights
    beta: float = 1.0
    gamma: float = 1.0
    delta: float = 1.0
    dice: bool = False
    smooth_l1_eps: float = 0.05  # epsilon of Eq. 15 (metres)
    noobj_weight: float = 0.1  # Eq. 16 weight of the "not referred" class
    seed_weight: float = 0.5  # auxiliary seed-relevance term (inside alpha)
    # + this weight times -log(softmax share of the targets among all candidates): BCE
    # alone is lowered by ranking any object above the table, whatever the sentence says
    seed_ranking: float = 0.0
    # weight of the referred/not-referred term inside alpha. Eq. 16 normalised by the slot
    # count and with noobj 0.1 is ~0.1 in size, so the slot scores learn slowly; > 1 helps
    referred_weight: float = 1.0
    # which slots the referred term calls "referred": "hungarian" (the one slot matched to
    # each target, Eq. 16 as written) or "mask_iou" (also every slot whose own mask covers
    # a target with IoU >= referred_iou). Several slots lock onto one object (superpoints of
    # it), and one-to-one matching then calls all but one arbitrary duplicate "not
    # referred": the scores stayed at their prior (~0.1 loss) through 1900 CPU steps.
    # Inference keeps one slot per object anyway (decision.dedup_overlap).
    referred_assignment: str = "hungarian"
    referred_iou: float = 0.5
    sce_log_zero: float = -4.0  # log(0) clamp of the reverse CE in Eq. 14
    class_weights: list[float] = field(default_factory=list)  # Eq. 16 w_c; [] = uniform
    match_cost_referred: float = 2.0  # Hungarian matching cost weights
    match_cost_class: float = 1.0
    match_cost_box: float = 5.0
    match_cost_mask: float = 2.0
    match_cost_dice: float = 2.0

    def __post_init__(self) -> None:
        if self.referred_assignment not in REFERRED_ASSIGNMENTS:
            raise ValueError(f"referred_assignment must be one of {REFERRED_ASSIGNMENTS}, "
                             f"got {self.referred_assignment!r}")
        if not 0 < self.referred_iou <= 1:
            raise ValueError(f"referred_iou must be in (0, 1], got {self.referred_iou}")


REFERRED_ASSIGNMENTS = ("hungarian", "mask_iou")


@dataclass
class DecisionConfig:
    """How raw outputs become answers: calibrated on validation data after training, and
    the only part of a checkpoint's config a robot may change at run time."""

    score_threshold: float = 0.5  # a detection slot fires above this referred probability
    mask_threshold: float = 0.5  # point mask probability that counts as "in the mask"
    # a fired slot whose mask lies more than this share inside targets already kept is
    # a duplicate (the same object, or a part of it) and dropped
    dedup_overlap: float = 0.5
    # a slot's score: "referred" (the detection head's probability) or
    # "referred_x_relevance" (times the mean text relevance of the candidates its mask
    # covers: the language-guided selection's scores, trained per candidate) or "scorer"
    # (the slot scorer's probability, model.slot_scorer)
    slot_score: str = "referred"
    # publish the upright box fitted to each target's mask points (tight, for grasping)
    # instead of the detection head's coarse box
    box_from_mask: bool = True
    # answer a singular command ("the black mug") with its best target only, a numeral
    # ("the two mugs") with at most that many (model/encoders/referent_count.py)
    limit_by_grammar: bool = True
    # a singular superlative ("the box on the left", "the tallest object") answers with the
    # extreme one of the objects scored at least this share of the best score (1: off)
    superlative_share: float = 1.0
    # ...and fires above this lower threshold when it is under score_threshold (1: never
    # lower): a superlative presupposes its objects ("the leftmost box": there are boxes),
    # while on a scan it has not seen the scorer's scores are low for every slot
    superlative_threshold: float = 1.0
    # metres: a target whose points lie in pieces more than this apart is answered as one
    # target per piece, where the command allows several answers (0 = never split)
    split_gap: float = 0.0

    def __post_init__(self) -> None:
        for name in ("score_threshold", "mask_threshold", "dedup_overlap", "superlative_share",
                     "superlative_threshold"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"decision.{name} must be in [0, 1], got {value}")
        if not self.split_gap >= 0.0:
            raise ValueError(f"decision.split_gap must be >= 0 (metres), got {self.split_gap}")
        if self.slot_score not in SLOT_SCORES:
            raise ValueError(f"slot_score must be one of {SLOT_SCORES}, got "
                             f"{self.slot_score!r}")


SLOT_SCORES = ("referred", "referred_x_relevance", "scorer")
