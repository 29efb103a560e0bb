"""Argument groups shared by the commands (data, model and recipe, proxy, run folder), and the one
override syntax: `--set KEY=VALUE`, repeatable, with dotted parts.

    --set epochs=3                      the training recipe (a field of `winnow.train.Recipe`)
    --set proxy.epochs=2                the proxy's recipe only (prune)
    --set cv.lr=0.5                     the fold models' recipe only (clean)
    --set strategy.margin.temperature=2 an option of the strategy named (prune, al)
    --set strategy.temperature=2        an option of the command's one strategy (select, al init,
                                        al next; strategy.NAME.KEY works there too when NAME is it)
    --set features.weights=FILE         an option of the --features extractor (select, prune, al,
                                        baseline)
    --set classifier.k=5                an option of the --classifier (baseline)

A command says which parts it takes (`SettingParts`); every other part, an unknown recipe key, an
unknown strategy or strategy option, a key given twice and `seed` are errors naming the key.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field

DATA_HELP = ("data spec: digits, cifar10:PATH, cifar100:PATH, folder:PATH (a directory or .zip), synthetic-pad:SEED "
             "(synthetic presentation attacks with rgb, depth and ir views), multi:PATH (PATH/rgb/, PATH/depth/, ... "
             "image folders) or surf:LIST_FILE (face anti-spoofing lists: color depth ir label per line)")

SEED_ERROR = "do not --set seed: the seed is set by --seed (or --seeds, --trials)"
RECIPE_PARTS = ("proxy", "cv")  # prefixes whose keys are recipe fields, like a key without prefix
CLASSICAL = {"features": "the --features extractor", "classifier": "the --classifier"}  # winnow.features' parts


# ---------------------------------------------------------------- --set


@dataclass
class Settings:
    """The parsed --set values of one command, by part."""

    recipe: dict = field(default_factory=dict)  # key -> typed value
    proxy: dict = field(default_factory=dict)
    cv: dict = field(default_factory=dict)
    strategies: dict[str | None, dict] = field(default_factory=dict)  # strategy name -> {key: value}; None:
    # the command's one strategy when it is not known here (al next without --strategy: the folder's)
    features: dict = field(default_factory=dict)  # option of the --features extractor -> typed value
    classifier: dict = field(default_factory=dict)  # option of the --classifier (winnow baseline) -> typed value


@dataclass(frozen=True)
class SettingParts:
    """Which parts of --set a command takes.

    recipe : KEY, the recipe of every training the command does
    proxy, cv : proxy.KEY (prune's proxy recipe), cv.KEY (clean's fold models' recipe)
    strategy : None, "one" (strategy.KEY: the command's one strategy, or strategy.NAME.KEY
        naming it) or "many" (strategy.NAME.KEY only)
    features : features.KEY, an option of the classical extractor that --features names
        (`winnow.features`), typed like its default
    classifier : classifier.KEY, an option of the classical classifier that --classifier names
    """

    recipe: bool = True
    proxy: bool = False
    cv: bool = False
    strategy: str | None = None
    features: bool = False
    classifier: bool = False
    example: str = "--set lr=0.1 --set cutout=8"

    def forms(self) -> list[str]:
        """The accepted forms, e.g. ['KEY', 'proxy.KEY', 'strategy.NAME.KEY']."""
        forms = [*(["KEY"] if self.recipe else []), *(["proxy.KEY"] if self.proxy else []),
                 *(["cv.KEY"] if self.cv else [])]
        forms += [f"{part}.KEY" for part in CLASSICAL if getattr(self, part)]
        if self.strategy == "one":
            forms.append("strategy.KEY")
        elif self.strategy == "many":
            forms.append("strategy.NAME.KEY")
        return forms

    def add_to(self, group) -> None:
        """Add --set to a parser or argument group."""
        meaning = {"KEY": "the recipe", "proxy.KEY": "the proxy's recipe only", "cv.KEY": "the fold models' recipe "
                   "only", "strategy.KEY": "an option of the strategy", "strategy.NAME.KEY": "an option of strategy "
                   "NAME", **{f"{part}.KEY": f"an option of {what}" for part, what in CLASSICAL.items()}}
        text = "; ".join(f"{form}: {meaning[form]}" for form in self.forms())
        if self.recipe or self.proxy or self.cv:
            text += f"; recipe keys: {', '.join(recipe_keys())}"
        if self.strategy:
            text += "; strategy option values: true/false, numbers and JSON in {} or [] are typed, else a string"
        classical = [part for part in CLASSICAL if getattr(self, part)]
        if classical:
            from ..features import CLASSIFIERS, FEATURES, option_names

            named = {**FEATURES, **(CLASSIFIERS if "classifier" in classical else {})}
            text += "; options by name: " + "; ".join(f"{name}: {', '.join(option_names(cls))}"
                                                     for name, cls in named.items())
        seed = "; not seed" if self.recipe or self.proxy or self.cv else ""
        group.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                           help=f"an override (repeatable): {text}{seed}. e.g. {self.example}")

    def parse(self, texts: list[str], strategy: str | None = None, features: str | None = None,
              classifier: str | None = None) -> Settings:
        """The --set values `texts` as `Settings`; a ValueError naming the key for anything this
        command does not take. `strategy`: the command's one strategy, when it has one and knows it;
        `features`, `classifier`: the extractor --features names (None: not given), the classifier."""
        settings, seen = Settings(), set()
        for text in texts:
            key, sep, value = text.partition("=")
            parts = key.split(".")
            if not sep or not all(part.isidentifier() for part in parts):
                raise ValueError(f"--set expects KEY=VALUE with KEY as in {self._accepted()} (got {text!r})")
            if key in seen:
                raise ValueError(f"--set {key} is given twice")
            seen.add(key)
            prefix = parts[0] if len(parts) > 1 and parts[0] in (*RECIPE_PARTS, *CLASSICAL, "strategy") else ""
            if prefix in CLASSICAL and getattr(self, prefix):
                chosen = {"features": features, "classifier": classifier}[prefix]
                getattr(settings, prefix)[parts[-1]] = _classical_value(key, prefix, parts[1:], value, chosen)
                continue
            if prefix == "strategy":
                name, option = self._strategy_key(key, parts[1:], strategy)
                if name is not None:
                    from ..strategies import get_strategy

                    try:  # an unknown strategy or option is an error naming the known ones
                        get_strategy(name).check_options({option: None})
                    except ValueError as error:
                        raise ValueError(f"--set {key}: {error}") from None
                settings.strategies.setdefault(name, {})[option] = _strategy_value(key, value)
                continue
            rest, form = (parts[1:], f"{prefix}.KEY") if prefix else (parts, "KEY")
            if rest == ["seed"]:
                raise ValueError(SEED_ERROR)
            if form not in self.forms():
                raise ValueError(f"--set {key}: this command takes no {form if prefix else 'recipe KEY'}; it takes "
                                 f"{self._accepted()}")
            if len(rest) != 1 or rest[0] not in recipe_keys():
                others = [other for other in self.forms() if other != form]
                raise ValueError(f"--set {key}: unknown key {key!r}; {form} is one of: {', '.join(recipe_keys())}"
                                 + (f"; the command also takes {', '.join(others)}" if others else ""))
            getattr(settings, prefix or "recipe")[rest[0]] = _recipe_value(key, rest[0], value)
        return settings

    def _strategy_key(self, key: str, rest: list[str], strategy: str | None) -> tuple[str | None, str]:
        """(strategy name or None, option) of strategy.KEY or strategy.NAME.KEY."""
        if self.strategy is None:
            raise ValueError(f"--set {key}: this command takes no strategy.KEY; it takes {self._accepted()}")
        if len(rest) == 2:
            name, option = rest
            if self.strategy == "one" and name != strategy:
                raise ValueError(f"--set {key} names strategy {name!r}, but "
                                 + (f"the strategy is {strategy!r}" if strategy else "--strategy does not name it")
                                 + f"; write strategy.{option}=... for the command's strategy")
            return name, option
        if len(rest) == 1 and self.strategy == "one":
            return strategy, rest[0]
        raise ValueError(f"--set {key}: expected {self.forms()[-1]}, e.g. strategy.margin.temperature=2")

    def _accepted(self) -> str:
        return ", ".join(f"{form}=VALUE" for form in self.forms())


def recipe_keys() -> list[str]:
    from ..train import Recipe

    return [f.name for f in dataclasses.fields(Recipe) if f.name != "seed"]


def _recipe_value(key: str, name: str, value: str):
    """`value` typed by the Recipe field `name`."""
    from ..train import Recipe

    kind = type(next(f.default for f in dataclasses.fields(Recipe) if f.name == name))
    if name == "time_budget":  # 6m, 90s, 1h30m or seconds
        from ..budget import parse_duration

        return parse_duration(value, f"--set {key}")
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return value.lower() in ("true", "1", "yes")
        return kind(value)
    except ValueError:
        raise ValueError(f"--set {key}: {value!r} is not a valid {kind.__name__}") from None


def _classical_value(key: str, part: str, rest: list[str], value: str, name: str | None):
    """features.KEY's or classifier.KEY's `value`, typed like the option's default in the
    extractor or classifier `name` (`winnow.features`)."""
    from ..features import CLASSIFIERS, FEATURES, parse_option

    if name is None:
        raise ValueError(f"--set {key}: an option of {CLASSICAL[part]}, but --{part} is not given")
    if len(rest) != 1:
        raise ValueError(f"--set {key}: expected {part}.KEY, e.g. "
                         + ("features.size=8" if part == "features" else "classifier.k=5"))
    known = FEATURES if part == "features" else CLASSIFIERS
    if name not in known:  # the unknown name itself is reported by the command
        return value
    try:
        return parse_option(known[name], rest[0], value)
    except ValueError as error:
        raise ValueError(f"--set {key}: {error}") from None


def _strategy_value(key: str, value: str):
    """A strategy option's value: JSON when it starts with { or [, true/false, an int, a float,
    else the string. Whether the strategy takes the option is the strategy registry's check."""
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"--set {key}: {value!r} is not valid JSON ({error})") from None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def recipe_overrides(args, settings: Settings,
                     keys=("device", "epochs", "time_budget", "freeze", "modality_dropout")) -> dict:
    """The recipe part of --set plus the options --device, --epochs, --time-budget, --freeze,
    --modality-dropout (and --seed) that name a recipe field."""
    overrides = dict(settings.recipe)
    for key in keys:
        value = getattr(args, key, None)  # a command without the option (distill has no --time-budget)
        if value is not None:
            if key in overrides and overrides[key] != value:
                raise ValueError(f"--{key.replace('_', '-')} {value} and --set {key}={overrides[key]} disagree")
            overrides[key] = value
    return overrides


# ---------------------------------------------------------------- argument groups


def add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", default="digits", metavar="SPEC", help=DATA_HELP + " (default: digits)")
    group.add_argument("--image-size", type=int, metavar="PX",
                       help="folder data: resize the short side to PX and centre-crop a square; "
                            "synthetic-pad data: the image side (default 32)")
    group.add_argument("--test-fraction", type=float, metavar="F",
                       help="folder data without train/ and test/ sub-folders: stratified test share (default 0.2)")
    group.add_argument("--skip-bad-images", action="store_true",
                       help="folder data: skip unreadable images and report how many, instead of stopping")
    group.add_argument("--cifar100-labels", choices=("fine", "coarse"), default="fine",
                       help="cifar100 data: 100 fine or 20 coarse classes (default fine)")
    group.add_argument("--modalities", type=name_list, metavar="NAME,NAME",
                       help="data with several inputs (e.g. synthetic-pad's rgb, depth, ir): the ones the model "
                            "sees, in this order (default all)")
    group.add_argument("--root", metavar="DIR",
                       help="surf data: the folder the list file's paths are relative to (default: the list's folder)")
    group.add_argument("--pad-images", metavar="SPEC",
                       help="synthetic-pad data: the data spec whose images are the scenes, e.g. "
                            "folder:cifar10-jpeg.zip (default: procedural textures)")
    group.add_argument("--pad-samples", type=int, metavar="N",
                       help="synthetic-pad data: how many samples (default: every source image, or 2400 textures)")


def data_options(args) -> dict:
    options = {}
    if args.image_size is not None:
        options["image_size"] = args.image_size
    if args.skip_bad_images:
        options["skip_bad_images"] = True
    if args.data.startswith(("folder:", "multi:", "surf:")):
        options["test_fraction"] = 0.2 if args.test_fraction is None else args.test_fraction
    elif args.test_fraction is not None:
        raise ValueError(f"--test-fraction applies only to folder: data, not to {args.data} (multi: and surf: data "
                         "take it too)")
    if args.cifar100_labels != "fine":
        options["cifar100_labels"] = args.cifar100_labels
    for option, key in (("modalities", "modalities"), ("pad_images", "pad_images"), ("pad_samples", "samples"),
                        ("root", "root")):
        if getattr(args, option, None) is not None:
            options[key] = getattr(args, option)
    return options


def add_model_options(group, parts: SettingParts):
    """--model, --preset, --weights, --freeze, --epochs, --device and --set: the model and recipe of
    a trained model."""
    from ..models import list_models
    from ..train import PRESETS

    group.add_argument("--model", metavar="NAME",
                       help=f"architecture: {', '.join(list_models())} (default: the preset's)")
    group.add_argument("--preset", default="auto", choices=("auto", *PRESETS),
                       help="training recipe; auto = small for images under 16 px, gpu on CUDA, else cpu")
    add_weights_options(group)
    group.add_argument("--epochs", type=float, metavar="N", help="epochs (default: the preset's)")
    group.add_argument("--time-budget", type=_duration, metavar="TIME",
                       help="fit each training's schedule to TIME (e.g. 90s, 6m, 1h): the steps are set from "
                            "the measured speed, warm-up and decay end on time; instead of --epochs")
    group.add_argument("--device", metavar="DEV", help="auto (default), cpu, cuda, cuda:N or mps")
    group.add_argument("--modality-dropout", type=float, metavar="P",
                       help="data with several modalities: zero each modality of a training image with "
                            "probability P, never all of them (the recipe's modality_dropout; default 0)")
    parts.add_to(group)
    return group


def add_weights_options(group) -> None:
    """--weights and --freeze: pretrained weights to start from, and linear probing."""
    from ..weights import NAMED_WEIGHTS

    group.add_argument("--weights", metavar="PATH|NAME",
                       help="start from pretrained weights: a state dict file (.pt/.pth from torch.save, or "
                            ".safetensors) with the model's names, e.g. torchvision's or timm's for resnet18_imagenet "
                            f"and resnet50_imagenet, or {', '.join(NAMED_WEIGHTS)} (downloaded once, checksum "
                            "checked). A head of another size is replaced; the ImageNet models then see 224 px "
                            "images, and the backbone learns at backbone_lr_scale=0.1, unless --set says otherwise")
    group.add_argument("--freeze", choices=("backbone",),
                       help="backbone: train the head only (linear probing; the recipe's freeze)")


def _duration(text: str) -> float:
    from ..budget import parse_duration

    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--time-budget ")) from None


def add_proxy_options(group) -> None:
    """How the proxy's inputs beyond probabilities and features are made."""
    group.add_argument("--mc-passes", type=int, default=20, metavar="T",
                       help="MC-dropout passes for strategies that need mc_probs, e.g. bald (default 20)")
    group.add_argument("--mc-dropout", type=float, default=0.5, metavar="P",
                       help="dropout rate on the penultimate features in those passes (default 0.5)")
    group.add_argument("--early-runs", type=int, default=2, metavar="R",
                       help="short training runs averaged for early_probs (el2n) (default 2)")
    group.add_argument("--early-epochs", type=float, default=1.0, metavar="E",
                       help="epochs of each short run; the recipe's schedule is shortened to it (default 1)")


def proxy_options(args):
    from ..experiments.proxy import ProxyOptions

    return ProxyOptions(mc_passes=args.mc_passes, mc_dropout=args.mc_dropout, early_runs=args.early_runs,
                        early_epochs=args.early_epochs)


def add_run_options(parser: argparse.ArgumentParser, resumable: bool = False) -> None:
    """--out and --force; `resumable`: of the commands made of cells that resume (prune, al, clean)."""
    run = parser.add_argument_group("run folder")
    if resumable:
        run.add_argument("--out", required=True, metavar="RUN_DIR",
                         help="the run folder; an existing one with the same arguments is resumed")
        run.add_argument("--force", action="store_true",
                         help="discard an existing run folder's results and start again")
    else:
        run.add_argument("--out", required=True, metavar="RUN_DIR", help="the run folder to write")
        run.add_argument("--force", action="store_true", help="replace the run files of an existing run folder")


# ---------------------------------------------------------------- argument types


def float_list(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def name_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def seed_value(text: str) -> int:
    """A seed: an int >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a seed, an int >= 0, got {text!r}")
    return value


def seed_list(text: str) -> list[int]:
    try:
        parts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or seeds separated by commas, got {text!r}") from None
    if "," not in text:
        if not parts or parts[0] < 1:
            raise argparse.ArgumentTypeError(f"the number of seeds must be >= 1, got {text!r}")
        return list(range(parts[0]))
    if any(part < 0 for part in parts):
        raise argparse.ArgumentTypeError(f"seeds are ints >= 0, got {text!r}")
    return parts


# ---------------------------------------------------------------- where the cells run


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """--backend, --address, --cpus-per-cell, --gpus-per-cell: where a command made of cells runs
    them (`winnow.experiments.backend`). Not part of the run's configuration: a run folder started
    on one backend resumes on the other."""
    group = parser.add_argument_group("where the cells run")
    group.add_argument("--backend", choices=("local", "ray"), default="local",
                       help="local: one after the other in this process (default); ray: as Ray tasks, in parallel "
                            "on this machine's cores or a cluster (pip install 'winnow[ray]'); finished cells are "
                            "written here either way")
    group.add_argument("--address", metavar="auto|HOST:PORT",
                       help="with --backend ray: the cluster to join (auto: the one `ray start` set up on this "
                            "machine); default: start a local Ray instance with this machine's cores")
    group.add_argument("--cpus-per-cell", type=float, metavar="N",
                       help="with --backend ray: CPUs per cell, and torch threads (default 1)")
    group.add_argument("--gpus-per-cell", type=float, metavar="F",
                       help="with --backend ray: GPUs per cell; a fraction packs cells on one GPU, e.g. 0.25 for "
                            "four (default 1 when the cluster has GPUs, else 0)")


def backend_options(args) -> dict:
    """The `backend` keyword of a command's function, from --backend and its options; the Ray
    cluster's resources are printed when it starts."""
    from ..experiments.backend import make_backend

    return {"backend": make_backend(args.backend, address=args.address, cpus_per_cell=args.cpus_per_cell,
                                    gpus_per_cell=args.gpus_per_cell, on_progress=getattr(args, "on_progress", None),
                                    report=lambda line: print(line, flush=True))}


def ran_on(record: dict) -> str:
    """" || on HOST pid PID" for a cell that ran in another process (--backend ray), else ""."""
    return f" || on {record['ran_on']}" if record.get("ran_on") else ""
