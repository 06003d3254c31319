"""The fused spline (sim2sky.nn.spline) against zuko's autograd spline: values, inverse, gradients."""

import pytest
import torch
import zuko

from sim2sky.nn.spline import FastRQSTransform

K = 8


def _pair(dtype, n=200, features=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    phi = (torch.randn(n, features, 3 * K - 1, generator=g, dtype=dtype) * 2).requires_grad_()
    x = (torch.randn(n, features, generator=g, dtype=dtype) * 3).requires_grad_()   # some beyond the bound 5
    ref = zuko.transforms.MonotonicRQSTransform(phi[..., :K], phi[..., K:2 * K], phi[..., 2 * K:], bound=5.0, slope=1e-3)
    return phi, x, FastRQSTransform(phi, bound=5.0, slope=1e-3), ref


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 2e-4)])
def test_values_inverse_and_gradients_match_zuko(dtype, tol):
    phi, x, ours, ref = _pair(dtype)
    assert (x.abs() > 5).any()                      # the identity tails are exercised
    y, ladj = ours.call_and_ladj(x)
    y_ref, ladj_ref = ref.call_and_ladj(x)
    assert torch.allclose(y, y_ref, atol=tol) and torch.allclose(ladj, ladj_ref, atol=tol)
    assert torch.allclose(ours.inv(y.detach()), x.detach(), atol=50 * tol)
    g = torch.Generator().manual_seed(1)
    wy, wl = torch.randn(y.shape, generator=g, dtype=dtype), torch.randn(y.shape, generator=g, dtype=dtype)
    ours_g = torch.autograd.grad((y * wy).sum() + (ladj * wl).sum(), (phi, x))
    ref_g = torch.autograd.grad((y_ref * wy).sum() + (ladj_ref * wl).sum(), (phi, x))
    for a, b in zip(ours_g, ref_g):
        assert (a - b).abs().max() <= 10 * tol * b.abs().max()


def test_gradcheck_and_broadcasting():
    phi, x, _, _ = _pair(torch.float64, n=12, features=2)
    assert torch.autograd.gradcheck(lambda p, v: FastRQSTransform(p).call_and_ladj(v), (phi, x))
    phi = torch.randn(4, 2, 3 * K - 1)
    x = torch.randn(7, 4, 2)                          # extra sample axis, as when sampling a flow
    t = FastRQSTransform(phi)
    y, ladj = t.call_and_ladj(x)
    assert y.shape == ladj.shape == (7, 4, 2)
    assert torch.allclose(t.inv(y), x, atol=1e-4)


@pytest.mark.parametrize("phi_shape,y_shape", [((50, 1), (30, 50, 1)), ((6, 3), (5, 6, 3)), ((3,), (4, 2, 3)),
                                               ((1, 3), (6, 4, 3)), ((4, 1), (4, 6))])
def test_inverse_of_shared_splines_equals_the_expanded_inverse(phi_shape, y_shape):
    # many values per spline (posterior draws) take the shared path; it must give the same numbers
    g = torch.Generator().manual_seed(2)
    phi = torch.randn(*phi_shape, 3 * K - 1, generator=g) * 2
    y = torch.randn(*y_shape, generator=g) * 3                   # some beyond the bound 5
    t = FastRQSTransform(phi)
    assert t._shared(y) is not None
    shape = torch.broadcast_shapes(phi.shape[:-1], y.shape)
    expanded = FastRQSTransform(phi.expand(*shape, 3 * K - 1).contiguous())
    assert expanded._shared(y) is None
    x = t.inv(y)
    assert x.shape == shape
    assert torch.equal(x, expanded.inv(y.expand(shape)))
    assert torch.allclose(t(x), y.expand(shape), atol=1e-4)


def test_flow_with_fused_spline_is_normalised():
    from sim2sky.nn.flows import build_flow

    torch.manual_seed(0)
    flow, _ = build_flow("nsf", 2, 3, transforms=3, bins=K)
    c = torch.randn(3)
    grid = torch.linspace(-8, 8, 321)
    theta = torch.cartesian_prod(grid, grid)
    with torch.no_grad():
        density = flow(c).log_prob(theta).exp()
    mass = density.sum() * (grid[1] - grid[0]) ** 2
    assert abs(mass.item() - 1.0) < 0.01


def test_sampling_and_density_do_not_import_sympy():
    # torch.broadcast_shapes imports torch.fx's symbolic shapes and sympy (0.3-0.5 s of a cold command)
    import subprocess
    import sys

    code = ("import sys, torch\n"
            "from sim2sky.nn.flows import build_flow\n"
            "for features in (1, 4):\n"
            "    flow, _ = build_flow('nsf', features, 3, transforms=2, bins=8)\n"
            "    q = flow(torch.randn(5, 3))\n"
            "    q.log_prob(q.sample((7,)))\n"
            "print('sympy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
