"""Direct Cross-Modal Alignment (MR-COSMO Fig. 3a): text<->points, image<->voxels -> f_align."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from query3d.model.alignment.constraints import AlignmentConstraints
from query3d.model.alignment.direct import BidirectionalDirectAlignment
from query3d.model.encoders.gather import gather_rows, masked_mean, take_rows


@dataclass
class ImageEvidence:
    """Image features for one frame, already reduced from the image encoder's maps.

    ``global_feat`` (1, C) is the scene's image feature (mean over cameras) used by the
    contrastive constraint; ``point_feat`` (N, C) and ``point_visible`` (N,) are the
    projected pixel features of each point (HCF-RES Eq. 2) and whether any camera sees it.
    """

    global_feat: torch.Tensor
    point_feat: torch.Tensor | None = None
    point_visible: torch.Tensor | None = None


@dataclass
class AlignedFeatures:
    f_align: torch.Tensor  # (N, 2 n_d): aligned point feature ++ its voxel's aligned feature
    text_emb: torch.Tensor | None  # (1, n_d) f_txt*, None when DCMA is off
    image_emb: torch.Tensor | None  # (1, n_d) f_image* of the scene, None without images


class DCMA(nn.Module):
    """Both blocks of DCMA; with ``enabled=False`` it only concatenates (ablation baseline)."""

    def __init__(
        self,
        dim: int,
        align_dim: int,
        text_dim: int,
        image_dim: int,
        ssm: str,
        ssm_state: int,
        enabled: bool = True,
    ) -> None:
        super().__init__()
        self.enabled = enabled
        self.has_image = image_dim > 0
        if enabled:
            self.constraints = AlignmentConstraints(text_dim, image_dim, dim)
            self.text_points = BidirectionalDirectAlignment(dim, align_dim, ssm, ssm_state)
            if self.has_image:
                self.image_voxels = BidirectionalDirectAlignment(dim, align_dim, ssm, ssm_state)

    def voxel_image_tokens(self, image: ImageEvidence, voxel_members: torch.Tensor) -> torch.Tensor:
        """One image token per voxel: its members' pixel features where cameras see them.

        A voxel seen by no camera falls back to the scene's global image feature, so the
        alignment still works without (or with wrong) intrinsics; partially seen voxels
        blend the two by the visible fraction of their points.
        """
        if image.point_feat is None or image.point_visible is None:
            return image.global_feat
        vis = image.point_visible.to(image.point_feat.dtype)[:, None]
        seen_sum = gather_rows(image.point_feat * vis, voxel_members).sum(dim=1)
        seen_count = gather_rows(vis, voxel_members).sum(dim=1)
        fraction = masked_mean(vis, voxel_members)
        seen_mean = seen_sum / seen_count.clamp_min(1.0)
        return fraction * seen_mean + (1.0 - fraction) * image.global_feat

    def point_context(self, f_point: torch.Tensor, knn: torch.Tensor) -> torch.Tensor | None:
        """The text-free share of the text-point alignment (the points' kNN neighbourhoods,
        projected): a cloud's, kept with its encoding, serves every command on it."""
        return self.text_points.element_state(f_point, knn) if self.enabled else None

    def forward(
        self,
        f_point: torch.Tensor,
        knn: torch.Tensor,
        f_voxel: torch.Tensor,
        kmap: torch.Tensor,
        voxel_members: torch.Tensor,
        point2voxel: torch.Tensor,
        text_pooled: torch.Tensor,
        image: ImageEvidence | None = None,
        point_context: torch.Tensor | None = None,
    ) -> AlignedFeatures:
        """f_point (N, n_d), f_voxel (V, n_d) of the finest scale; text_pooled (1, T_d);
        ``point_context``: ``point_context(f_point, knn)`` when already computed."""
        text_emb = image_emb = None
        if self.enabled:
            text_emb = self.constraints.encode_text(text_pooled)
            f_point = self.text_points(text_emb, f_point, knn, point_context)
            if image is not None and self.has_image:
                image_emb = self.constraints.encode_image(image.global_feat)
                tokens = self.constraints.encode_image(
                    self.voxel_image_tokens(image, voxel_members)
                )
                # the kernel map's centre tap is the voxel itself, which the block adds
                centre = kmap.shape[1] // 2
                neighbours = torch.cat([kmap[:, :centre], kmap[:, centre + 1 :]], dim=1)
                f_voxel = self.image_voxels(tokens, f_voxel, neighbours)
        f_align = torch.cat([f_point, take_rows(f_voxel, point2voxel)], dim=-1)
        return AlignedFeatures(f_align=f_align, text_emb=text_emb, image_emb=image_emb)
