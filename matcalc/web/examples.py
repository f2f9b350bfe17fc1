"""The examples menu of the page: the seed notes' derivations (as in `examples/*.py`) and
Matrix Cookbook classics. Each is a state of the page: the program and the options by
the names of the API (`api.DERIVE_OPTIONS`), `mode` being the page's mode (gradient,
steps, jacobian, hessian, hvp), and the claims for the "check my formula" box.
"""
from __future__ import annotations

SEEDS = "From the seed notes"
COOKBOOK = "Matrix Cookbook classics"

EXAMPLES: list[dict] = [
    {"group": SEEDS, "title": "Linear layer Y = X A' + b'",
     "program": "Y = X*A' + b'", "shapes": "X=N,n; A=m,n; b=m",
     "claims": ["X = dY*A", "A = dY'*X", "b = dY'*vector(1)", "A = X'*dY"]},
    {"group": SEEDS, "title": "Bilinear form z = x' A y",
     "program": "z = x'*A*y", "claims": ["x = A*y", "y = A'*x", "A = x*y'", "A = y*x'"]},
    {"group": SEEDS, "title": "d2l 4.7: MLP with weight decay", "mode": "steps",
     "program": "z = W1*x\nh = relu(z)\no = W2*h\n"
                "J = 0.5*norm2(o - y)^2 + lambda/2*(norm2(W1)^2 + norm2(W2)^2)",
     "claims": ["W2 = (o - y)*h' + lambda*W2", "W2 = h*(o - y)' + lambda*W2",
                "h = W2'*(o - y)", "W1 = (W2'*(o - y) .* (z > 0))*x' + lambda*W1"]},
    {"group": SEEDS, "title": "CS231n two-layer net (batch, softmax, L2)", "mode": "steps",
     "program": "H = relu(X*W1 + b1')\nS = H*W2 + b2'\nP = softmax(S')'\n"
                "L = -sum(Y .* log(P))/N + 0.5*reg*(norm2(W1)^2 + norm2(W2)^2)",
     "shapes": "X=N,D; W1=D,K; W2=K,C; Y=N,C; reg=scalar", "onehot": "Y=rows",
     "claims": ["b2 = (P - Y)'*vector(1)/N", "W2 = H'*(P - Y)/N + reg*W2"]},
    {"group": SEEDS, "title": "Sigmoid/softmax network of the notes (one sample)",
     "mode": "steps",
     "program": "z1 = W1*x + b1\nh = sigmoid(z1)\nz2 = W2*h + b2\nE = -y'*log(softmax(z2))",
     "onehot": "y", "claims": ["W2 = (softmax(z2) - y)*h'", "b2 = softmax(z2) - y"]},
    {"group": SEEDS, "title": "The same network on a batch, with weight decay",
     "program": "Z1 = W1*X + b1*vector(1)'\nA1 = sigmoid(Z1)\nZ2 = W2*A1 + b2*vector(1)'\n"
                "J = -sum(Y .* log(softmax(Z2)))/m + lambda/(2*m)*(norm2(W1)^2 + norm2(W2)^2)",
     "shapes": "X=n,m; Y=c,m", "onehot": "Y", "wrt": "W1, W2, b2",
     "claims": ["W2 = (softmax(Z2) - Y)*A1'/m + lambda/(2*m)*W2",
                "W2 = (softmax(Z2) - Y)*A1'/m + lambda/m*W2",
                "W2 = A1*(softmax(Z2) - Y)'/m + lambda/m*W2"]},
    {"group": SEEDS, "title": "Sigmoid neuron σ(w1 x1 + w2 x2 + b)",
     "program": "L = sigmoid(w1*x1 + w2*x2 + b)",
     "shapes": "w1=scalar; x1=scalar; w2=scalar; x2=scalar; b=scalar"},
    {"group": COOKBOOK, "title": "Quadratic form x' A x", "program": "x'*A*x",
     "claims": ["x = 2*A*x", "x = (A + A')*x"]},
    {"group": COOKBOOK, "title": "Hessian of x' A x", "program": "x'*A*x", "mode": "hessian",
     "wrt": "x"},
    {"group": COOKBOOK, "title": "a' X b", "program": "a'*X*b"},
    {"group": COOKBOOK, "title": "tr(A X B)", "program": "tr(A*X*B)", "wrt": "X"},
    {"group": COOKBOOK, "title": "tr(X' A X)", "program": "tr(X'*A*X)", "wrt": "X"},
    {"group": COOKBOOK, "title": "log det X", "program": "log(det(X))"},
    {"group": COOKBOOK, "title": "det X", "program": "det(X)"},
    {"group": COOKBOOK, "title": "a' inv(X) b", "program": "a'*inv(X)*b", "wrt": "X"},
    {"group": COOKBOOK, "title": "tr(inv(X) A)", "program": "tr(inv(X)*A)", "wrt": "X"},
    {"group": COOKBOOK, "title": "Least squares ‖A x − b‖²", "program": "norm2(A*x - b)^2",
     "wrt": "x"},
    {"group": COOKBOOK, "title": "Hessian of least squares", "program": "0.5*norm2(A*x - y)^2",
     "mode": "hessian", "wrt": "x"},
    {"group": COOKBOOK, "title": "Jacobian of softmax", "program": "softmax(x)",
     "mode": "jacobian"},
    {"group": COOKBOOK, "title": "Jacobian of X A' (Kronecker form)", "program": "X*A'",
     "mode": "jacobian", "wrt": "X"},
    {"group": COOKBOOK, "title": "Logistic loss: Hessian with ±1 labels",
     "program": "sum(log(vector(1) + exp(-y .* (X*w))))", "mode": "hessian", "wrt": "w",
     "signs": "y"},
    {"group": COOKBOOK, "title": "Hessian-vector product of x' A x", "program": "x'*A*x",
     "mode": "hvp", "wrt": "x"},
]


def as_request(example: dict) -> dict:
    """The API request the page sends for `example` (app.js's `request` does the same):
    the mode "steps" is the gradient with steps, shapes "X=N,n; b=m" a mapping, names
    "W1, b1" a list."""
    mode = example.get("mode", "gradient")
    request = {"program": example["program"], "claims": list(example.get("claims", [])),
               "mode": "gradient" if mode == "steps" else mode, "steps": mode == "steps"}
    if "shapes" in example:
        request["shapes"] = dict((part.strip() for part in entry.split("=", 1))
                                 for entry in example["shapes"].split(";") if entry.strip())
    for key in ("wrt", "onehot", "signs"):
        if key in example:
            request[key] = [name.strip() for name in example[key].split(",") if name.strip()]
    return request
