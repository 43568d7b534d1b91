"""TrainConfig: everything a training run needs, stored whole in its checkpoint.

`dvtex-train` only parses its arguments into a TrainConfig; `dvtex-eval` and the benchmarks build
them directly. A config's *recipe* (every field but where and how long it runs) decides the model;
`--resume` keeps the recipe of the checkpoint and may change only the run fields.
"""

import math
import os
from dataclasses import asdict, dataclass, field, fields, replace

from dvtex.errors import UserError
from dvtex.train.baselines import METHODS, model_class
from dvtex.train.model import DECODERS, PRESETS, DVAEConfig
from dvtex.train.objective import OCTAVES, RECIPES

DEFAULT_STEPS = 5000
CPU_BATCH = 32  # the paper recipe's batch on a CPU (TrainConfig.resolved)
WEIGHTS = ("texture", "motion", "prior")  # the recipe's term weights an option may replace
RUN_FIELDS = ("output", "steps", "minutes", "device", "save_every", "preview_every", "resume")


@dataclass
class TrainConfig:
    sources: list = field(default_factory=list)  # videos, image folders, .npy, digits:CYCLE, procedural:NAME
    output: str = "model.pt"  # the checkpoint (.pt)
    method: str = "dvae"  # dvae, or a baseline: vae+var, lds
    preset: str = "cows64"  # the paper's Table 1 (dvtex.train.model.PRESETS)
    width: int = None  # network width d; None: 128 on CUDA, 32 on a CPU
    encoder_width: int = None  # the encoder's d (only training runs it); None: see resolved()
    decoder: str = "dcgan"  # the decoder's 2x steps: dcgan (the paper's transposed convolutions) or resize
    recipe: str = "paper"  # what the decoder is trained to match (dvtex.train.objective.RECIPES)
    sigma_y2: float = None  # output variance; None: the recipe's (paper: the preset's; sharp: learnt)
    texture: float = None  # weight of the played frames' patch statistics; None: the recipe's
    motion: float = None  # weight of their frame differences' patch statistics; None: the recipe's
    prior: float = None  # weight of the encoded states' distance from N(0, I); None: the recipe's
    regions: int = 1  # the statistics compare patches within each cell of a regions x regions grid
    regions_from: int = 0  # ... on the pyramid levels from this one on (0 the finest octave, OCTAVES the low-pass rest)
    levels: int = OCTAVES + 1  # the texture term compares the finest `levels` pyramid levels (OCTAVES + 1: all)
    motion_levels: int = OCTAVES + 1  # ... and the motion term its finest `motion_levels`
    statistics_from: int = 0  # the step from which the texture and motion terms count (0: from the first)
    grey: bool = False  # grey frames even from a colour source
    aspect: str = None  # "16:9": frames of that width:height (the first kernel widened); None: square
    mask: str = None  # incomplete data: saltpepper:P, rect:P, or a mask video/folder
    steps: int = None  # budget: steps in all (DEFAULT_STEPS when minutes is None too) ...
    minutes: float = None  # ... or wall-clock minutes
    batch: int = None  # frame pairs per step; None: see resolved()
    lr: float = 1e-3  # Adam, every parameter but A and B
    lr_dynamics: float = 1e-2  # A and B: 200 numbers with a weak, noisy gradient
    cosine: int = None  # learning rates on a half cosine: None off, 0 over the whole budget, N over N steps
    kl_warmup: int = 0  # steps over which the KL weight ramps from 0 to 1
    seed: int = 0
    device: str = "auto"  # auto, cpu, cuda
    save_every: int = 200  # checkpoint every K steps
    preview_every: int = 500  # preview PNG every K steps, 0 for none
    resume: bool = False  # continue the checkpoint at `output` (its recipe wins)

    def __post_init__(self):
        self.sources = list(self.sources)
        if self.steps is None and self.minutes is None:
            self.steps = DEFAULT_STEPS

    def model_recipe(self):
        """The fields that decide the model: all but where and how long the run goes."""
        return {k: v for k, v in asdict(self).items() if k not in RUN_FIELDS}

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, values):
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"training config has unknown fields {', '.join(unknown)}; a newer dvtex wrote it?")
        return cls(**values)

    def resolved(self, cuda=False):
        """The config with its defaults decided, as a checkpoint stores it and recipes are compared:
        width (the paper's 128 on CUDA, 32 on a CPU), the preset's sigma_y2, and batch and encoder
        width. Those two are the paper's (64 pairs, the encoder as wide as the decoder) except for
        the paper recipe on a CPU: 32 pairs and an encoder half as wide, which reach the KID of the
        paper's batch in half the minutes (benchmarks/time_to_quality.py, README)."""
        width = self.width if self.width is not None else 128 if cuda else 32
        sigma_y2 = self.sigma_y2
        if sigma_y2 is None and RECIPES.get(self.recipe, {}).get("likelihood") == "fixed":
            sigma_y2 = PRESETS.get(self.preset, {}).get("sigma_y2")
        laptop = not cuda and self.recipe == "paper"
        batch = self.batch if self.batch is not None else CPU_BATCH if laptop else 64
        encoder_width = self.encoder_width
        if encoder_width is None:
            encoder_width = width // 2 if laptop and width >= 2 and not width_problem(self.preset, width // 2) else width
        return replace(self, width=width, sigma_y2=sigma_y2, batch=batch, encoder_width=encoder_width)

    def objective(self):
        """The loss terms of the model: the recipe's, with a given --sigma-y2 fixing the variance and a
        given --texture/--motion/--prior weight replacing the recipe's."""
        terms = dict(RECIPES[self.recipe])
        if self.sigma_y2 is not None:
            terms["likelihood"] = "fixed"
        terms.update({k: float(getattr(self, k)) for k in WEIGHTS if getattr(self, k) is not None})
        return terms

    def model_config(self, channels):
        overrides = {"channels": channels, "masked": bool(self.mask), "width": self.width,
                     "encoder_width": self.encoder_width or 0, "decoder": self.decoder, "regions": self.regions,
                     "regions_from": self.regions_from, "levels": self.levels, "motion_levels": self.motion_levels,
                     "kernel1_w": aspect_kernel(self.aspect, PRESETS[self.preset]["kernel1"]), **self.objective()}
        if self.sigma_y2 is not None:
            overrides["sigma_y2"] = self.sigma_y2
        return DVAEConfig.from_preset(self.preset, **overrides)

    def validate(self):
        """Refuse, before any work, what cannot train: one UserError naming the option."""
        if not self.sources:
            raise UserError("no SOURCE given: name a video, an image folder, a .npy, digits:01234 or procedural:fire")
        if self.method not in METHODS:
            raise UserError(f"--method {self.method}: choose {', '.join(METHODS)}")
        if self.preset not in PRESETS:
            raise UserError(f"--preset {self.preset}: choose {', '.join(sorted(PRESETS))}")
        if self.recipe not in RECIPES:
            raise UserError(f"--recipe {self.recipe}: choose {', '.join(RECIPES)}")
        if self.decoder not in DECODERS:
            raise UserError(f"--decoder {self.decoder}: choose {', '.join(DECODERS)}")
        _at_least(self, {"save_every": 1, "preview_every": 0, "kl_warmup": 0, "seed": 0, "regions": 1,
                          "regions_from": 0})
        if self.regions_from > OCTAVES:
            raise UserError(f"--regions-from {self.regions_from}: choose a pyramid level from 0 (the finest octave) "
                            f"to {OCTAVES} (the low-pass rest)")
        for option, levels in (("--levels", self.levels), ("--motion-levels", self.motion_levels)):
            if not 1 <= levels <= OCTAVES + 1:
                raise UserError(f"{option} {levels}: choose 1 to {OCTAVES} (the finest octaves only) or "
                                f"{OCTAVES + 1} (every octave and the low-pass rest, the default)")
        _at_least(self, {"statistics_from": 0})
        if self.statistics_from:
            terms = self.objective()
            if not (terms["texture"] or terms["motion"]):
                raise UserError(f"--statistics-from {self.statistics_from}: recipe {self.recipe} has no statistics terms "
                                "to start late; give --texture W or --motion W above 0, or drop it")
            if self.steps is not None and self.statistics_from >= self.steps:
                raise UserError(f"--statistics-from {self.statistics_from} is not below --steps {self.steps}: the "
                                "statistics terms would never count; choose a step inside the budget")
        if self.regions_from and self.regions == 1:
            raise UserError(f"--regions-from {self.regions_from} says which levels --regions cuts into cells; "
                            "give --regions G above 1 too, or drop it")
        if self.batch is not None:
            _at_least(self, {"batch": 1})
        if self.steps is not None:
            _at_least(self, {"steps": 1})
        if self.cosine is not None:
            _at_least(self, {"cosine": 0})
        for name in ("minutes", "lr", "lr_dynamics", "sigma_y2"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise UserError(f"--{name.replace('_', '-')} must be a positive number, not {value}")
        for name in WEIGHTS:
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise UserError(f"--{name} must be a number of at least 0, not {value}")
        for name in ("width", "encoder_width"):
            value = getattr(self, name)
            if value is None:
                continue
            _at_least(self, {name: 1})
            problem = width_problem(self.preset, value)
            if problem:
                raise UserError(f"--{name.replace('_', '-')} {value} does not fit preset {self.preset}: {problem}")
        if self.mask:
            check_mask(self.mask)
        if self.aspect is not None:
            aspect_kernel(self.aspect, PRESETS[self.preset]["kernel1"])  # refuses what it cannot read
            if self.mask:
                raise UserError("--aspect with --mask: incomplete data trains square frames only; drop one of them")
            if any(s.startswith("digits:") for s in self.sources):
                raise UserError("--aspect: the digits are square; drop --aspect for digits:...")
        if self.mask and not model_class(self.method).learns_from_masks:
            raise UserError(f"--method {self.method} fits complete frames only; drop --mask, or use --method dvae or vae+var")
        return self


def width_problem(preset, width):
    """Why a network of `width` does not fit `preset` (its width divisible as its layers need), or None."""
    try:
        DVAEConfig.from_preset(preset, width=width)
    except (ValueError, KeyError) as err:  # KeyError: an unknown preset, which validate() names first
        return str(err)
    return None


def aspect_kernel(aspect, kernel1):
    """The width of the decoder's first kernel that gives frames of `aspect` ("W:H") at its height
    `kernel1`: 0 (square) for None. 16:9 at cows64 (kernel 4): 7, so 64x112 frames."""
    if aspect is None:
        return 0
    w, _, h = str(aspect).partition(":")
    try:
        ratio = float(w) / float(h)
    except (ValueError, ZeroDivisionError):
        ratio = math.nan
    if not (math.isfinite(ratio) and 0.25 <= ratio <= 4):
        raise UserError(f"--aspect {aspect}: give width:height, from 1:4 to 4:1, e.g. --aspect 16:9")
    return max(1, round(kernel1 * ratio))


def check_mask(spec):
    """saltpepper:P or rect:P with P in [0, 1), or a mask video/folder/.npy that exists."""
    kind, _, share = spec.partition(":")
    if kind in ("saltpepper", "rect"):
        try:
            ok = 0 <= float(share) < 1
        except ValueError:
            ok = False
        if not ok:
            raise UserError(f"--mask {spec}: the share after ':' must be a number in [0, 1), e.g. {kind}:0.5")
    elif not os.path.exists(spec):
        raise UserError(f"--mask {spec}: not saltpepper:P, rect:P, or an existing mask video/folder/.npy")


def _at_least(config, bounds):
    for name, low in bounds.items():
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise UserError(f"--{name.replace('_', '-')} must be a whole number of at least {low}, not {value}")


def resumed(stored, given, explicit):
    """The config a --resume runs: the checkpoint's recipe with `given`'s run fields. An option the user
    set explicitly (`explicit`: field names) that contradicts the recipe is refused, not ignored."""
    recipe = stored.model_recipe()
    for name in sorted(explicit):
        if name in recipe and name != "sources" and getattr(given, name) != recipe[name]:
            raise UserError(f"--resume: the checkpoint was trained with --{name.replace('_', '-')} {recipe[name]}, "
                            f"not {getattr(given, name)}; drop the option, or train a new model with another -o")
    if given.sources != stored.sources:
        raise UserError(f"--resume: {given.output} was trained on {' '.join(stored.sources)}; give the same sources")
    budget = {"steps": given.steps, "minutes": given.minutes} if explicit & {"steps", "minutes"} else \
        {"steps": stored.steps, "minutes": stored.minutes}
    return replace(stored, output=given.output, device=given.device, save_every=given.save_every,
                   preview_every=given.preview_every, resume=True, **budget)
