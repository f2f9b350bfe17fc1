"""Seed 003: the one-hidden-layer sigmoid/softmax network of the notes, with the notes'
regularised update, whose lambda/(2m) W is a mistake (the gradient of lambda/(2m)|W|^2
is lambda/m W), and whose dz^T h^T mixes layouts."""
from _show import show

show("one hidden layer, sigmoid then softmax (one sample)", """
z1 = W1*x + b1
h = sigmoid(z1)
z2 = W2*h + b2
E = -y'*log(softmax(z2))
""", onehot=["y"], claims=["W2 = (softmax(z2) - y)*h'", "b2 = softmax(z2) - y"])

show("the same network on a batch of m samples, with weight decay", """
Z1 = W1*X + b1*vector(1)'
A1 = sigmoid(Z1)
Z2 = W2*A1 + b2*vector(1)'
J = -sum(Y .* log(softmax(Z2)))/m + lambda/(2*m)*(norm2(W1)^2 + norm2(W2)^2)
""", shapes={"X": "n,m", "Y": "c,m"}, onehot=["Y"], wrt=["W1", "W2", "b2"], claims=[
    "W2 = (softmax(Z2) - Y)*A1'/m + lambda/(2*m)*W2",   # the notes' regularisation term
    "W2 = (softmax(Z2) - Y)*A1'/m + lambda/m*W2",       # corrected
    "W2 = A1*(softmax(Z2) - Y)'/m + lambda/m*W2",       # dz' h' in the wrong layout
])
