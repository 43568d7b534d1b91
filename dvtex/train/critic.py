"""A frame-pair critic on the played process: a small learnt discriminator that judges whole frames.

The sharp recipe's patch statistics compare the played frames' patches with the real ones, but hold
no layout: a face that dissolves into skin-coloured patches scores well. The critic sees a pair of
successive frames whole (its last layer reads the full 4x4 map), real pairs against pairs decoded
from the process (h ~ N(0, I), h' = A h + B v), so the decoder is held to plausible frames, and A
and B to plausible motion, across the whole law the player draws from. No pretrained weights: it
learns alongside the model, from the training frames alone.

- Hinge loss (Lim & Ye 2017) on a spectrally normalised DCGAN discriminator (Miyato et al. 2018).
- The generator's term is weighed adaptively (Esser et al. 2021, "Taming Transformers"): the ratio
  of the reconstruction's gradient to the critic's at the decoder's last layer, times `critic`, so
  a weight of 1 makes the critic pull as hard as the per-pixel error whatever the source.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

CRITIC_WIDTH = 16  # channels of the first layer: it judges 64x64 pairs, the decoder draws them
CRITIC_LR, CRITIC_BETAS = 4e-4, (0.5, 0.999)  # the DCGAN's betas; a faster critic for short CPU budgets
MAX_WEIGHT = 1e4  # the adaptive weight's ceiling, for steps where the critic's gradient vanishes


class Critic(nn.Module):
    """A pair of frames (B, 2C, H, W) -> one score each: stride-2 convolutions down to the decoder's
    first map (kernel1_shape), then one linear layer over all of it."""

    def __init__(self, cfg, width=CRITIC_WIDTH):
        super().__init__()
        chans = [2 * cfg.channels] + [width * 2**i for i in range(cfg.layers - 1)]
        self.convs = nn.ModuleList(spectral_norm(nn.Conv2d(a, b, 4, 2, 1)) for a, b in zip(chans, chans[1:]))
        kh, kw = cfg.kernel1_shape
        self.score = spectral_norm(nn.Linear(chans[-1] * kh * kw, 1))

    def forward(self, pair):  # (B, 2C, H, W) -> (B,)
        x = pair
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
        return self.score(x.flatten(1)).squeeze(1)


def critic_losses(critic, fake, real):
    """(generator, critic) hinge terms for decoded pairs `fake` and real pairs `real`, (B, 2C, H, W):
    the generator's reaches the decoder (and A, B) only, the critic's the critic only."""
    critic.requires_grad_(False)  # its weights take no gradient from the generator's term
    generator = -critic(fake).mean()
    critic.requires_grad_(True)
    judged = F.relu(1 - critic(real.detach())).mean() + F.relu(1 + critic(fake.detach())).mean()
    return generator, judged


def adaptive_weight(rec, generator, last_layer, weight):
    """`weight` times ||d rec / d W|| / ||d generator / d W|| at the decoder's last layer W, not differentiated."""
    g_rec = torch.autograd.grad(rec, last_layer, retain_graph=True)[0]
    g_gen = torch.autograd.grad(generator, last_layer, retain_graph=True)[0]
    return weight * (g_rec.norm() / (g_gen.norm() + 1e-4)).clamp(max=MAX_WEIGHT).detach()
