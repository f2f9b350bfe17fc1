"""Seed 000: the d2l network of section 4.7 (no biases, L2 penalty s = lambda/2 (|W1|^2 +
|W2|^2), squared loss), and the forum's question on the order of the transposes."""
from _show import show

show("d2l 4.7: one hidden layer with weight decay", """
z = W1*x
h = relu(z)
o = W2*h
J = 0.5*norm2(o - y)^2 + lambda/2*(norm2(W1)^2 + norm2(W2)^2)
""", claims=[
    "W2 = (o - y)*h' + lambda*W2",        # eq. 4.7.11: dJ/do h' + lambda W2, right
    "W2 = h*(o - y)' + lambda*W2",        # transpose in the wrong place: a shape error
    "h = W2'*(o - y)",                    # eq. 4.7.12: dJ/dh = W2' dJ/do, right
    "W1 = (W2'*(o - y) .* (z > 0))*x' + lambda*W1",   # eq. 4.7.14, right
])
