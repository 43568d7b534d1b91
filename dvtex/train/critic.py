"""A frame-pair critic on the played process: a small learnt discriminator that judges whole frames.

The sharp recipe's patch statistics compare the played frames' patches with the real ones, but hold
no layout: a face that dissolves into skin-coloured patches scores well. The critic sees a pair of
successive frames whole (its last layer reads the full 4x4 map), real pairs against pairs decoded
from the process (h ~ N(0, I), h' = A h + B v), so the decoder is held to plausible frames, and A
and B to plausible motion, across the whole law the player draws from. No pretrained weights: it
learns alongside the model, from the training frames alone.

- Hinge loss (Lim & Ye 2017) on a spectrally normalised DCGAN discriminator (Miyato et al. 2018).
- Data-efficient (DiffAugment, Zhao et al. 2020): a critic can memorise a source of a hundred
  pairs, and one that has gives the decoder gradients that draw artefacts, not frames. Every pair it judges, real or decoded, is first shifted by up to an eighth of
  the frame and has a quarter of it cut out, differentiably, so the decoder is held to what
  survives those changes.
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
TRANSLATE, CUTOUT = 0.125, 0.5  # DiffAugment's: shifts of up to 1/8 of the frame; a hole half its side


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


def translated(pair, share=TRANSLATE):
    """Each pair (B, 2C, H, W) shifted by up to `share` of its size each way, zeros coming in: both
    frames alike, so the motion between them is kept (DiffAugment's translation)."""
    count, _, height, width = pair.shape
    dy = torch.randint(-int(height * share), int(height * share) + 1, (count, 1, 1), device=pair.device)
    dx = torch.randint(-int(width * share), int(width * share) + 1, (count, 1, 1), device=pair.device)
    ys = torch.arange(height, device=pair.device).view(1, height, 1) - dy  # (B, H, 1)
    xs = torch.arange(width, device=pair.device).view(1, 1, width) - dx  # (B, 1, W)
    inside = ((ys >= 0) & (ys < height) & (xs >= 0) & (xs < width))[:, None]  # (B, 1, H, W)
    index = (ys.clamp(0, height - 1) * width + xs.clamp(0, width - 1)).flatten(1)  # (B, H * W)
    moved = pair.flatten(2).gather(2, index[:, None].expand(-1, pair.shape[1], -1)).view_as(pair)
    return moved * inside


def cut_out(pair, share=CUTOUT):
    """Each pair with one square `share` of its size blanked at a random place (DiffAugment's cutout)."""
    count, _, height, width = pair.shape
    size_y, size_x = int(height * share), int(width * share)
    top = torch.randint(0, height - size_y + 1, (count, 1, 1), device=pair.device)
    left = torch.randint(0, width - size_x + 1, (count, 1, 1), device=pair.device)
    ys = torch.arange(height, device=pair.device).view(1, height, 1)
    xs = torch.arange(width, device=pair.device).view(1, 1, width)
    hole = (ys >= top) & (ys < top + size_y) & (xs >= left) & (xs < left + size_x)  # (B, H, W)
    return pair * ~hole[:, None]


def augmented(pair):
    return cut_out(translated(pair))


def critic_losses(critic, fake, real):
    """(generator, critic) hinge terms for decoded pairs `fake` and real pairs `real`, (B, 2C, H, W):
    the generator's reaches the decoder (and A, B) only, the critic's the critic only."""
    critic.requires_grad_(False)  # its weights take no gradient from the generator's term
    generator = -critic(augmented(fake)).mean()
    critic.requires_grad_(True)
    judged = F.relu(1 - critic(augmented(real.detach()))).mean() + F.relu(1 + critic(augmented(fake.detach()))).mean()
    return generator, judged


def adaptive_weight(rec, generator, last_layer, weight):
    """`weight` times ||d rec / d W|| / ||d generator / d W|| at the decoder's last layer W, not differentiated."""
    g_rec = torch.autograd.grad(rec, last_layer, retain_graph=True)[0]
    g_gen = torch.autograd.grad(generator, last_layer, retain_graph=True)[0]
    return weight * (g_rec.norm() / (g_gen.norm() + 1e-4)).clamp(max=MAX_WEIGHT).detach()
