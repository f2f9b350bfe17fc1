"""Seed 004: the CS231n assignment-1 two-layer net in batch form (rows are samples),
softmax classifier with L2 regularisation, checked against a hand-written NumPy reference."""
import numpy as np

from _show import show

d = show("CS231n two-layer net, batch of N samples", """
H = relu(X*W1 + b1')
S = H*W2 + b2'
P = softmax(S')'
L = -sum(Y .* log(P))/N + 0.5*reg*(norm2(W1)^2 + norm2(W2)^2)
""", shapes={"X": "N,D", "W1": "D,K", "W2": "K,C", "Y": "N,C", "reg": "scalar"},
    onehot=["Y=rows"], claims=["b2 = (P - Y)'*vector(1)/N", "W2 = H'*(P - Y)/N + reg*W2"])

# the hand-written reference of the assignment, and matcalc's formulas, on one batch
rng = np.random.default_rng(0)
N, D, H, C = 5, 4, 3, 2
X, W1, b1 = rng.normal(size=(N, D)), rng.normal(size=(D, H)), rng.normal(size=H)
W2, b2, reg = rng.normal(size=(H, C)), rng.normal(size=C), 0.1
Y = np.eye(C)[rng.integers(0, C, size=N)]
hidden = np.maximum(0, X @ W1 + b1)
scores = hidden @ W2 + b2
p = np.exp(scores - scores.max(axis=1, keepdims=True))
p /= p.sum(axis=1, keepdims=True)
dscores = (p - Y) / N
ref = {"W2": hidden.T @ dscores + reg * W2, "b2": dscores.sum(axis=0)}
dhidden = dscores @ W2.T * (hidden > 0)
ref.update(W1=X.T @ dhidden + reg * W1, b1=dhidden.sum(axis=0))
values = dict(X=X, W1=W1, b1=b1, W2=W2, b2=b2, Y=Y, reg=reg, np=np)
for name, want in ref.items():
    got = eval(d[name].numpy, {"np": np}, values)  # noqa: S307 - matcalc's own output
    assert np.allclose(got, want), name
    print(f"{name}: matches the hand-written NumPy reference")
