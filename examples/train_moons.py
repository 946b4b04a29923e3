"""The toolkit on the moons: an MLP of scalar nodes, Adam, a Trainer with a best checkpoint.

Run: python examples/train_moons.py  (writes best_moons.npz, the best epoch's parameters)
"""

import argparse

from graphdl import datasets, nn, optim
from graphdl.train import Trainer

argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()

X, y = datasets.make_moons(1000, noise=0.1, seed=0)
train, dev, test = datasets.train_dev_test_split(X, y, (640, 160, 200), seed=0)

model = nn.MLP(2, [8, 8, 1], activation="tanh", rng=0)  # scalar nodes fc1.w[0,0] … fc3.z[0]
trainer = Trainer(model, optim.Adam(model, lr=0.05), loss="bce_logits", metric="accuracy")
history = trainer.fit(train, dev, epochs=30, batch_size=32, checkpoint="best_moons.npz", restore_best=True)

print(f"best dev accuracy {history.best_value:.3f} at epoch {history.best_epoch}")
print("test:", trainer.evaluate(test))
print("logits of the first three test points:", model(test[0][:3]))  # a model is callable on data
