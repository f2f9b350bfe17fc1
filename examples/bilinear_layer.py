"""Seed 001, the batched bilinear layer: z_ij = x_i' A_j y_i + b_j for the rows x_i of X
(N x n) and y_i of Y (N x m), with L bilinear forms A_j stacked in a tensor A (L x n x m).
This is torch.nn.Bilinear. Written in index notation, derived with its steps, checked by
finite differences and, where torch is installed, compared with torch.nn.Bilinear's
autograd."""
import numpy as np
from _show import show

import matcalc

SHAPES = {"X": "N,n", "Y": "N,m", "A": "L,n,m", "b": "L"}
LAYER = "Z[i,j] = X[i,k]*A[j,k,l]*Y[i,l] + b[j]"

d = show("bilinear layer (torch.nn.Bilinear)", LAYER, shapes=SHAPES,
         claims=["A[j,k,l] = dZ[i,j]*X[i,k]*Y[i,l]", "b = sum(dZ, 1)'",
                 "X[i,k] = dZ[i,j]*A[j,k,l]*Y[i,l]",
                 "Y[i,l] = dZ[i,j]*X[i,k]*A[j,l,k]"])      # the last: A's axes swapped
# the notes compute it per form: Z_j = ((X A_j) .* Y) summed along each row
show("bilinear layer as the notes compute it", """U[i,j,l] = X[i,k]*A[j,k,l]
Z[i,j] = U[i,j,l]*Y[i,l] + b[j]""", shapes=SHAPES)

# the seed's own spelling, with subscripts, is refused with the statement it means
print("== the seed's subscripts")
try:
    matcalc.derive("z_j = x'*A_j*y + b_j")
except matcalc.MatcalcError as e:
    print(e.render())
    print("fix:", e.fix.program)
print()

# the layer as the seed writes it in LaTeX, and the Jacobian of one output entry by one
# form's entries, the seed's dz_ij/dA_klm = delta_jk x_il y_im, checked entry by entry
print("== in LaTeX, and the Jacobian dZ/dA")
tex = matcalc.derive("Z_{ij} = X_{ik} A_{jkl} Y_{il} + b_j", shapes=SHAPES)
assert tex["A"].text == d["A"].text
jac = matcalc.derive(LAYER, shapes=SHAPES, mode="jacobian", wrt=["A"])
print(jac.text())
print(jac.check().summary())
print()

# the generated gradient against torch.nn.Bilinear's autograd
rng = np.random.default_rng(0)
N, n, m, L = 5, 4, 3, 2
X, Y = rng.standard_normal((N, n)), rng.standard_normal((N, m))
A, b = rng.standard_normal((L, n, m)), rng.standard_normal(L)
dZ = rng.standard_normal((N, L))
Z, grads = d.compile().value_and_gradient(X, A, Y, b, dZ=dZ)
try:
    import torch
except ImportError:
    print("torch is not installed: the comparison with torch.nn.Bilinear is skipped")
else:
    layer = torch.nn.Bilinear(n, m, L, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(A))
        layer.bias.copy_(torch.as_tensor(b))
    Xt = torch.as_tensor(X).requires_grad_(True)
    Yt = torch.as_tensor(Y).requires_grad_(True)
    Zt = layer(Xt, Yt)
    Zt.backward(torch.as_tensor(dZ))
    theirs = {"X": Xt.grad, "Y": Yt.grad, "A": layer.weight.grad, "b": layer.bias.grad}
    assert np.allclose(Z, Zt.detach().numpy())
    for name, g in theirs.items():
        err = np.abs(grads[name] - g.numpy()).max() / np.abs(g.numpy()).max()
        print(f"torch.nn.Bilinear autograd, d{name}: same (max rel. difference {err:.1e})")
        assert err < 1e-12
