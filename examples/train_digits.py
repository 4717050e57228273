"""Train a linear classifier on scikit-learn's digits and report validation accuracy.

Params arrive on the command line (the spec's ``{{ name }}`` templates); ``hpo.report`` sends
one report per epoch. With a checkpoint folder (hyperband ``resume: true``) it continues from
the last saved model instead of starting again.
"""

import argparse
import pickle
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import hpo

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=1e-4)
parser.add_argument("--eta0", type=float, default=0.01)
parser.add_argument("--loss", default="hinge")
parser.add_argument("--penalty", default="l2")
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)

ckpt_dir = hpo.checkpoint_dir()
ckpt = ckpt_dir / "model.pkl" if ckpt_dir else None
start, model = 0, None
if ckpt is not None and ckpt.exists():
    with open(ckpt, "rb") as fh:
        start, model = pickle.load(fh)
if model is None:
    model = SGDClassifier(
        loss=args.loss, penalty=args.penalty, alpha=args.alpha,
        learning_rate="constant", eta0=args.eta0, random_state=0,
    )

rng = np.random.default_rng(0)
for epoch in range(start + 1, args.epochs + 1):
    order = rng.permutation(len(X_train))
    model.partial_fit(X_train[order], y_train[order], classes=np.arange(10))
    accuracy = model.score(X_val, y_val)
    hpo.report(step=epoch, accuracy=accuracy, loss=1.0 - accuracy)
    if ckpt is not None:
        with open(ckpt, "wb") as fh:
            pickle.dump((epoch, model), fh)
