"""The paper's digit experiment, judged: does a synthesised sequence follow 0 -> 1 -> 2 -> 3 -> 4 -> 0?

A small CNN judge learns MNIST from the held-out digits (never in a training sequence; see
`dvtex.train.data.mnist_digits`) and is scored on a part of them it did not see. Order accuracy is the
share of transitions y_t -> y_t+1 whose judged labels follow the cycle; readability is the judge's
mean confidence.
"""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from dvtex.train.data import mnist_digits, resize_frame


class JudgeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
        self.fc = nn.Linear(128 * 4 * 4, 10)
        self.drop = nn.Dropout(0.3)

    def forward(self, x):  # (B, 1, 32, 32) in [-1, 1] -> logits (B, 10)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)
        return self.fc(self.drop(x.flatten(1)))


@dataclass
class DigitJudge:
    net: JudgeNet
    accuracy: float  # on held-out digits the judge never trained on
    size: int = 32

    @torch.no_grad()
    def classify(self, frames):
        """uint8 frames (T, H, W[, C]) -> labels (T,), confidences (T,)."""
        frames = np.asarray(frames)
        if frames.ndim == 4:
            frames = frames.mean(axis=3).round().astype(np.uint8)
        x = np.stack([resize_frame(f, self.size) for f in frames]).astype(np.float32) / 127.5 - 1
        self.net.eval()
        prob = F.softmax(self.net(torch.from_numpy(x)[:, None]), dim=1)
        conf, labels = prob.max(dim=1)
        return labels.numpy(), conf.numpy()


def _shift(x, gen, pixels=2):
    """Random translations of up to `pixels`: the judge must not care where a digit sits."""
    padded = F.pad(x, (pixels,) * 4, value=-1.0)
    dy, dx = torch.randint(0, 2 * pixels + 1, (2,), generator=gen).tolist()
    return padded[:, :, dy:dy + x.shape[2], dx:dx + x.shape[3]]


def train_judge(seed=0, epochs=12, test_per_class=50):
    """Train the digit judge on held-out MNIST digits; its accuracy is measured on a part kept aside."""
    images, labels = mnist_digits("heldout")
    x = np.stack([resize_frame(im, 32) for im in images]).astype(np.float32) / 127.5 - 1
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(labels == d))[:test_per_class] for d in range(10)])
    train = np.setdiff1d(np.arange(len(labels)), test)
    xt, yt = torch.from_numpy(x[train])[:, None], torch.from_numpy(labels[train])
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = JudgeNet()
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=epochs * (len(train) // 64 + 1))
        for _ in range(epochs):
            net.train()
            for batch in torch.randperm(len(train), generator=gen).split(64):
                loss = F.cross_entropy(net(_shift(xt[batch], gen)), yt[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
    judge = DigitJudge(net, 0.0)
    guessed, _ = judge.classify(((x[test] + 1) * 127.5).round().astype(np.uint8))
    judge.accuracy = float((guessed == labels[test]).mean())
    return judge


def order_accuracy(labels, cycle="01234"):
    """Share of transitions labels[t] -> labels[t+1] that follow the digit cycle."""
    nxt = {int(cycle[i]): int(cycle[(i + 1) % len(cycle)]) for i in range(len(cycle))}
    return float(np.mean([nxt.get(int(a)) == int(b) for a, b in zip(labels[:-1], labels[1:])]))


def judge_sequence(judge, frames, cycle="01234"):
    labels, conf = judge.classify(frames)
    return {"order_accuracy": order_accuracy(labels, cycle), "readability": float(conf.mean()),
            "labels": "".join(str(int(v)) for v in labels)}
