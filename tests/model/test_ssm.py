"""State-space variants: Eq. 5-7 by hand, the selective scan against loops and mamba-ssm."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from query3d.model.alignment import BidirectionalDirectAlignment
from query3d.model.ssm import (
    SSM_REGISTRY,
    BidirectionalSSM,
    SelectiveSSM,
    build_ssm,
    mamba_selective_scan,
    selective_scan_reference,
)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


def _lti_by_hand(A, B, C, D, xs):
    """Eq. 5-6 literally, column vectors, numpy float64."""
    h = np.zeros(A.shape[0])
    out = []
    for x in xs:
        h = A @ h + B @ x
        out.append(C @ h + D @ x)
    return out


def test_registry_names_both_variants_and_rejects_unknown():
    assert {"lti", "mamba"} <= set(SSM_REGISTRY.names())
    with pytest.raises(KeyError, match="lti"):
        build_ssm("s4", 4, 2)


def test_lti_matches_eq_5_6_by_hand():
    torch.manual_seed(0)
    ssm = build_ssm("lti", 5, 0).double()
    xs = [torch.randn(5, dtype=torch.float64) for _ in range(3)]
    got = ssm([x[None] for x in xs])
    want = _lti_by_hand(*(_np(m) for m in (ssm.A, ssm.B, ssm.C, ssm.D)), [_np(x) for x in xs])
    for g, w in zip(got, want):
        np.testing.assert_allclose(_np(g[0]), w, rtol=1e-12, atol=1e-12)


def test_bidirectional_alignment_matches_eq_2_to_7_by_hand():
    """psi* = LayerNorm(psi_3^f + psi_1^b) for one point with two neighbours (one a pad)."""
    torch.manual_seed(1)
    n_d, D = 3, 4
    block = BidirectionalDirectAlignment(n_d, D, "lti", 0).double()
    with torch.no_grad():  # a non-trivial LayerNorm affine, so it is checked too
        block.norm.weight.uniform_(0.5, 1.5)
        block.norm.bias.uniform_(-0.5, 0.5)
    text = torch.randn(1, n_d, dtype=torch.float64)
    feats = torch.randn(3, n_d, dtype=torch.float64)
    knn = torch.tensor([[2, 3], [0, 2], [1, 0]])  # row 0: neighbour 2 and a pad (3 == N)
    got = _np(block.aligned_state(text, block.element_state(feats, knn))[0])

    W_t, W_p = _np(block.W_token.weight), _np(block.W_element.weight)
    phi_txt = W_t @ _np(text[0])  # Eq. 2
    phi_pts = W_p @ ((_np(feats[0]) + _np(feats[2])) / 2)  # Eq. 3: point 0 and neighbour 2
    seq = [phi_txt, phi_pts, phi_txt]  # Eq. 4
    f, b = block.ssm.forward_model, block.ssm.backward_model
    psi_f = _lti_by_hand(_np(f.A), _np(f.B), _np(f.C), _np(f.D), seq)
    psi_b_rev = _lti_by_hand(_np(b.A), _np(b.B), _np(b.C), _np(b.D), seq[::-1])
    s = psi_f[2] + psi_b_rev[2]  # psi_3^f + psi_1^b (backward's last step is position 1)
    ln = (s - s.mean()) / np.sqrt(s.var() + block.norm.eps)
    want = ln * _np(block.norm.weight) + _np(block.norm.bias)  # Eq. 7
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("length", [1, 3, 5])
def test_lti_unrolled_maps_equal_the_scan(length):
    """The folded form DCMA uses at run time gives the scanned recurrence's output."""
    torch.manual_seed(4)
    model = BidirectionalSSM("lti", 7, 0).double()
    steps = [torch.randn(4, 7, dtype=torch.float64) for _ in range(length)]
    psi_f = model.forward_model(steps, last_only=True)[0]
    psi_b = model.backward_model(steps[::-1], last_only=True)[0]
    torch.testing.assert_close(model.terminal_sum(steps), psi_f + psi_b, rtol=1e-12, atol=1e-12)
    assert model.forward_model.last_output_maps(length) is not None


def test_selective_scan_is_not_folded():
    assert BidirectionalSSM("mamba", 8, 4).terminal_maps(3) is None


@pytest.mark.parametrize("name", ["lti", "mamba"])
def test_shared_steps_broadcast_like_expanded_steps(name):
    torch.manual_seed(2)
    model = BidirectionalSSM(name, 8, 4)
    tok, pts = torch.randn(1, 8), torch.randn(6, 8)
    shared = model.terminal_sum([tok, pts, tok])
    expanded = model.terminal_sum([tok.expand(6, -1), pts, tok.expand(6, -1)])
    torch.testing.assert_close(shared, expanded)


@pytest.mark.parametrize("name", ["lti", "mamba"])
def test_forward_pass_is_causal(name):
    torch.manual_seed(3)
    model = build_ssm(name, 6, 4)
    xs = [torch.randn(2, 6) for _ in range(3)]
    changed = xs[:2] + [torch.randn(2, 6)]
    a, b = model(xs), model(changed)
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(a[1], b[1])
    assert not torch.allclose(a[2], b[2])
    (last,) = model(xs, last_only=True)
    torch.testing.assert_close(last, a[2])


def _selective_scan_loops(u, delta, A, B, C, D, bias):
    """Scalar loops over batch, channel, state: Mamba's ZOH / Euler discretisation."""
    u, delta, A, B, C, D, bias = (_np(t) for t in (u, delta, A, B, C, D, bias))
    bsz, d, L = u.shape
    y = np.zeros_like(u)
    for i in range(bsz):
        for c in range(d):
            h = np.zeros(A.shape[1])
            for t in range(L):
                dt = np.log1p(np.exp(delta[i, c, t] + bias[c]))
                h = np.exp(dt * A[c]) * h + dt * B[i, :, t] * u[i, c, t]
                y[i, c, t] = (h * C[i, :, t]).sum() + D[c] * u[i, c, t]
    return y


def test_reference_selective_scan_matches_loops_and_the_layer():
    torch.manual_seed(4)
    layer = SelectiveSSM(6, state=3).double()
    x = torch.randn(2, 3, 6, dtype=torch.float64)
    args = layer.scan_arguments(x)
    ref = selective_scan_reference(**args, delta_softplus=True)
    np.testing.assert_allclose(_np(ref), _selective_scan_loops(**{
        k: args[k] for k in ("u", "delta", "A", "B", "C", "D")}, bias=args["delta_bias"]),
        rtol=1e-10, atol=1e-12)
    layer.use_fused_kernel = False
    torch.testing.assert_close(layer.forward_sequence(x), ref.transpose(1, 2))


@pytest.mark.gpu
@pytest.mark.skipif(mamba_selective_scan is None, reason="mamba-ssm does not import here "
                    "(it needs CUDA and its compiled extension)")
@pytest.mark.skipif(not torch.cuda.is_available(), reason="mamba-ssm's kernel needs a CUDA GPU")
def test_reference_selective_scan_equals_mamba_ssm():
    torch.manual_seed(5)
    layer = SelectiveSSM(64, state=16).cuda()
    x = torch.randn(512, 3, 64, device="cuda")
    args = layer.scan_arguments(x)
    fused = mamba_selective_scan(
        args["u"], args["delta"], args["A"], args["B"], args["C"], args["D"], None,
        args["delta_bias"], True)
    ref = selective_scan_reference(**args, delta_softplus=True)
    torch.testing.assert_close(fused, ref, rtol=1e-4, atol=1e-4)
    steps = [x[:, t] for t in range(3)]
    with torch.no_grad():
        kernel_out = layer(steps)
        layer.use_fused_kernel = False
        torch_out = layer(steps)
    for a, b in zip(kernel_out, torch_out):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
