"""Wrong input to any command is one line naming the option or file, never a traceback.

From the issue tracker: "Any traceback a user can reach with wrong input is a bug". `CASES` is
the one table of wrong inputs, every command with missing files, a file where a folder is
expected, empty folders, a folder with one class, unknown data specs, wrong types, budgets larger
than the pool, fractions outside their range, unknown strategies and options, unknown recipe keys
and bad values, unknown models, presets and devices, bad labelled-set and answer files, an `--out`
in the way and a corrupt image. Each row is (command line, a fragment of the message): the
command must exit with 2, print no traceback and exactly one line starting with `winnow ` (for
argparse's errors: its usage, then that line), and the message must hold the fragment, which
names the option or the file. No file of the user's may change.

Every case fails before any training, or after a training of a few steps on the digits.
In a command line, {d} is the folder of the user's files (`user_files`), {out} a new folder.
"""

from __future__ import annotations

import re
import shlex

import numpy as np
import pytest
import torch
from PIL import Image

from winnow.cli import main
from winnow.data import load


TRAIN = "train --out {out} --data"
SELECT = "select --strategy random --budget 5 --out {out} --data"
PRUNE = "prune --fractions 0.5 --strategies random --seeds 1 --epochs 0.01 --out {out} --data"
AL = "al --initial 10 --budget 10 --cycles 2 --trials 1 --strategy random --epochs 0.01 --out {out} --data"
CLEAN = "clean --folds 2 --seeds 1 --epochs 0.01 --out {out} --data"
INIT = "al init --labels {d}/labels.csv --out {out} --data"
QUICK = "--epochs 0.01"  # one training step, for the cases that can only fail after a proxy is trained

CASES = [
    # ------------------------------------------------ data that is not there or not usable, in every command
    *[(f"{command} {data}", message) for command in (TRAIN, SELECT, PRUNE, AL, CLEAN) for data, message in (
        ("folder:{d}/missing", "{d}/missing does not exist"),
        ("folder:{d}/file.txt", "{d}/file.txt is neither a folder nor a .zip archive"),
        ("folder:{d}/empty", "no class folders in {d}/empty/"),
        ("folder:{d}/one", "folder:{d}/one has 1 class (a): a classifier needs two or more"),
        ("folder:{d}/corrupt", "cannot read the image {d}/corrupt/a/broken.png: not an image Pillow can read"),
        ("nope", "unknown data spec 'nope'"),
        ("cifar10:{d}/empty", "no batches.meta in {d}/empty"),
        ("folder:{d}/two --test-fraction 1.5", "test_fraction must be in [0, 1), got 1.5"),
        ("folder:{d}/two --image-size 0", "image_size must be a positive integer, got 0"),
        ("digits --test-fraction 0.3", "--test-fraction applies only to folder: data, not to digits"),
        ("digits --skip-bad-images", "skip_bad_images applies only to folder: specs, not to digits"),
        ("synthetic-pad:0 --image-size 8 --pad-samples 40 --modalities rgb,thermal",
         "synthetic-pad:0 has no modality 'thermal'; its modalities are rgb, depth, ir"),
        ("digits --modalities rgb", "modalities rgb given, but digits has one input (no modalities)"),
        ("digits --pad-samples 40", "pad_images and samples apply only to synthetic-pad: specs, not to digits"),
        ("digits --root {d}", "root applies only to surf: specs, not to digits"),
        ("surf:{d}/missing.txt", "surf: list file {d}/missing.txt does not exist"),
        ("digits --out {d}/file.txt", "{d}/file.txt exists and is not a folder"),
        ("digits --out {d}/two --force", "{d}/two holds files that are not a run's (a, b)"),
        ("digits --model nope", "unknown model 'nope'"),
        ("digits --device nope", "recipe option device='nope' is not valid"),
        ("digits --device cuda:99", "device 'cuda:99' is not available"),
        ("digits --set nope=1", "--set nope: unknown key 'nope'"),
        ("digits --set seed=1", "do not --set seed"),
        ("digits --set lr=-1", "recipe option lr=-1.0 is not valid: it must be > 0"),
        ("digits --set batch_size=0", "recipe option batch_size=0 is not valid: it must be >= 1"),
        ("digits --set lr=abc", "--set lr: 'abc' is not a valid float"),
        ("digits --preset nope", "argument --preset: invalid choice: 'nope'"),
        ("digits --weights {d}/missing.pt", "weights {d}/missing.pt: no such file"),
    )],
    # ------------------------------------------------ train
    ("train --data digits --epochs 0 --out {out}", "recipe option epochs=0.0 is not valid: it must be > 0"),
    ("train --data digits --epochs -1 --out {out}", "recipe option epochs=-1.0 is not valid"),
    ("train --data digits --epochs inf --out {out}", "recipe option epochs=inf is not valid: it must be a finite"),
    ("train --data digits --epochs abc --out {out}", "argument --epochs: invalid float value: 'abc'"),
    ("train --data digits --time-budget 5x --out {out}",
     "argument --time-budget: '5x' is not a duration: write seconds or e.g. 90s, 6m, 1.5h, 1h30m"),
    ("train --data digits --time-budget 0 --out {out}", "argument --time-budget: '0' must be longer than 0 seconds"),
    ("train --data digits --time-budget 6m --epochs 3 --out {out}",
     "epochs=3.0 and time_budget=360.0 both set the training's length: give one of them"),
    ("train --data digits --set time_budget=soon --out {out}", "--set time_budget 'soon' is not a duration"),
    ("train --data digits --time-budget 60 --set time_budget=90 --out {out}",
     "--time-budget 60.0 and --set time_budget=90.0 disagree"),
    ("train --data digits --set lr=inf --out {out}", "recipe option lr=inf is not valid: it must be a finite"),
    ("train --data digits --set val_fraction=1 --out {out}", "recipe option val_fraction=1.0 is not valid"),
    ("train --data digits --set ema=1 --out {out}", "recipe option ema=1.0 is not valid: it must be in [0, 1)"),
    ("train --data digits --set optimizer=nope --out {out}", "recipe option optimizer='nope' is not valid"),
    ("train --data digits --set flip=maybe --out {out}", "--set flip: 'maybe' is not a valid bool"),
    ("train --data digits --set resize_schedule=abc --out {out}", "recipe option resize_schedule='abc' is not valid"),
    ("train --data digits --set early_stopping_patience=2 --out {out}",
     "early_stopping_patience=2 needs validation images"),
    ("train --data digits --calibrate --set val_fraction=0.001 --out {out}",
     "recipe option val_fraction=0.001 holds out no image of the 1347 training images"),
    ("train --data digits --seed -1 --out {out}", "argument --seed: expected a seed, an int >= 0, got '-1'"),
    ("train --data digits --seed abc --out {out}", "argument --seed: expected a seed"),
    ("train --data folder:{d}/two --test-fraction 0.01 --out {out}",
     "folder:{d}/two has no images in its test split with test_fraction 0.01 (--test-fraction"),
    ("train --data folder:{d}/two --test-fraction 0.99 --out {out}",
     "folder:{d}/two has no images in its train split with test_fraction 0.99 (--test-fraction"),
    ("train --data folder:{d}/two --test-fraction 0 --out {out}",
     "folder:{d}/two has no images in its test split with test_fraction 0 (--test-fraction"),
    ("train --data digits", "the following arguments are required: --out"),
    # ------------------------------------------------ pretrained weights (train; the same options in every command)
    ("train --data digits --weights {d}/file.txt --out {out}",
     "weights {d}/file.txt: not a state dict torch.load(weights_only=True) can read"),
    ("train --data digits --model resnet18_imagenet --weights {d}/bad-keys.pt --out {out}",
     "weights {d}/bad-keys.pt do not fit model ImageNetResNet (2 entries, the model has 122): missing keys "
     "bn1.weight, bn1.bias, "),
    ("train --data digits --weights {d}/bad-keys.pt --out {out}",
     "(the model is the preset's mlp: name the weights' architecture with --model, e.g. resnet18_imagenet)"),
    ("train --data digits --weights torchvision:resnet99 --out {out}", "weights 'torchvision:resnet99': unknown name"),
    ("train --data digits --freeze head --out {out}", "argument --freeze: invalid choice: 'head'"),
    ("train --data digits --set freeze=head --out {out}",
     "recipe option freeze='head' is not valid: it must be backbone or empty"),
    ("train --data digits --set backbone_lr_scale=0 --out {out}",
     "recipe option backbone_lr_scale=0.0 is not valid: it must be > 0"),
    ("train --data digits --set input_size=-1 --out {out}", "recipe option input_size=-1 is not valid"),
    ("distill --data digits --teacher mlp --student mlp --weights {d}/missing.pt --out {out}",
     "weights {d}/missing.pt: no such file"),
    # ------------------------------------------------ ablate
    ("ablate --data digits --vary nope=1 --out {out}", "--vary nope: unknown recipe option"),
    ("ablate --data digits --vary mixup=big --out {out}", "--vary mixup: 'big' is not a valid float"),
    ("ablate --data digits --vary mixup= --out {out}", "--vary mixup: give at least one value"),
    ("ablate --data digits --vary mixup --out {out}", "argument --vary: expected KEY=V1,V2"),
    ("ablate --data digits --vary mixup=-1 --out {out}", "--vary mixup=-1.0: recipe option mixup=-1.0 is not valid"),
    ("ablate --data digits --vary seed=1 --out {out}", "--vary seed: the seeds are --seeds"),
    ("ablate --data digits --vary mixup=1 --vary mixup=2 --out {out}", "--vary mixup is given twice"),
    ("ablate --data digits --out {out}", "--vary: give at least one KEY=V1,V2"),
    ("ablate --data digits --base small --vary hue=0.1 --epochs 0.01 --out {out}",
     "saturation and hue change colours: they need RGB images"),
    # ------------------------------------------------ select
    ("select --data digits --strategy random --budget abc --out {out}", "argument --budget: invalid int value"),
    ("select --data digits --strategy random --budget 0 --out {out}", "budget must be an int >= 1, got 0"),
    ("select --data digits --strategy random --budget 100000 --out {out}",
     "budget 100000 is larger than the pool of 1347 samples"),
    ("select --data digits --strategy random --labelled {d}/few.csv --budget 1345 --out {out}",
     "budget 1345 is larger than the pool of 1342 samples (the train split minus the labelled set)"),
    ("select --data digits --strategy random --fraction 0 --out {out}", "fraction must be in (0, 1], got 0.0"),
    ("select --data digits --strategy random --fraction 1.5 --out {out}", "fraction must be in (0, 1], got 1.5"),
    ("select --data digits --strategy random --fraction nan --out {out}", "fraction must be in (0, 1], got nan"),
    ("select --data digits --strategy random --budget 5 --fraction 0.5 --out {out}",
     "argument --fraction: not allowed with argument --budget"),
    ("select --data digits --strategy nope --budget 5 --out {out}", "unknown strategy 'nope'"),
    ("select --data digits --strategy margin --budget 5 --out {out}",
     "strategy 'margin' needs probs from a proxy model"),
    ("select --data digits --budget 5 --out {out}",
     "--strategy is required (it has a default only with --labelled all: self_confidence)"),
    ("select --data digits --strategy self_confidence --labelled {d}/few.csv --budget 5 --out {out}",
     "strategy 'self_confidence' needs labels"),
    ("select --data digits --strategy random --class-balanced --budget 5 --out {out}",
     "class balancing needs the classes of the pool"),
    ("select --data digits --strategy margin --labelled all --budget 5 --set strategy.nope=1 --out {out}",
     "--set strategy.nope: unknown option(s) nope for strategy 'margin'"),
    ("select --data digits --strategy margin --labelled all --budget 5 --set strategy.entropy.temperature=2 "
     "--out {out}", "--set strategy.entropy.temperature names strategy 'entropy', but the strategy is 'margin'"),
    (f"select --data digits --strategy margin --labelled all --budget 5 --set strategy.temperature=abc {QUICK} "
     "--out {out}", "temperature must be a number > 0 or 'fit', got 'abc'"),
    (f"select --data digits --strategy margin --labelled all --budget 5 --set strategy.temperature=fit {QUICK} "
     "--out {out}", "temperature='fit' needs inputs 'val_logits' and 'val_labels'"),
    (f"select --data digits --strategy margin --labelled {{d}}/few.csv --budget 5 --set strategy.temperature=fit "
     f"--set val_fraction=0.1 {QUICK} --out {{out}}",
     "recipe option val_fraction=0.1 holds out no image of the 5 training images"),
    ("select --data digits --strategy bald --labelled all --budget 5 --mc-passes 0 --out {out}",
     "mc_passes must be an int >= 1, got 0"),
    ("select --data digits --strategy bald --labelled all --budget 5 --mc-dropout 1.5 --out {out}",
     "mc_dropout must be in [0, 1), got 1.5"),
    ("select --data digits --strategy el2n --labelled all --budget 5 --early-epochs 0 --out {out}",
     "early_epochs must be a number > 0, got 0.0"),
    ("select --data digits --strategy random --budget 5 --seed -1 --out {out}", "argument --seed: expected a seed"),
    ("select --data digits --strategy random --budget 5 --labelled {d}/missing.csv --out {out}",
     "labelled set {d}/missing.csv does not exist"),
    ("select --data digits --strategy random --budget 5 --labelled {d}/file.txt --out {out}",
     "labelled set {d}/file.txt: give a .csv or .npy file, or 'all'"),
    ("select --data digits --strategy random --budget 5 --labelled {d}/folder.csv --out {out}",
     "labelled set {d}/folder.csv is not a file"),
    ("select --data digits --strategy random --budget 5 --labelled {d}/bad-row.csv --out {out}",
     "{d}/bad-row.csv line 3: index 'abc' is not an integer"),
    ("select --data digits --strategy random --budget 5 --labelled {d}/outside.csv --out {out}",
     "{d}/outside.csv line 2: index 99999 is not in the train split"),
    ("select --data digits --strategy random --budget 5 --labelled {d}/twice.csv --out {out}",
     "{d}/twice.csv line 3: index 2 is listed twice"),
    ("select --data digits --strategy random --budget 5 --labelled {d}/no-column.csv --out {out}",
     "{d}/no-column.csv: needs a column 'index'"),
    ("select --data digits --strategy random --budget 5 --labelled {d}/latin1.csv --out {out}",
     "labelled set {d}/latin1.csv is not UTF-8 text"),
    ("select --data digits --strategy margin --budget 5 --labelled {d}/header-only.csv --out {out}",
     "labelled set {d}/header-only.csv lists no samples"),
    ("select --data digits --strategy random --budget 5 --labelled {d}/floats.npy --out {out}",
     "{d}/floats.npy: expected a 1-D integer array of dataset indices"),
    ("select --data digits --strategy random --budget 5 --labelled {d}/not-npy.npy --out {out}",
     "labelled set {d}/not-npy.npy is not a .npy array of dataset indices"),
    ("select --data digits --strategy random --budget 5 --labelled {d}/objects.npy --out {out}",
     "labelled set {d}/objects.npy is not a .npy array of dataset indices"),
    # ------------------------------------------------ features of an extractor (select, prune, al)
    ("select --data digits --strategy coreset --budget 5 --features hog --out {out}",
     "unknown features 'hog'; known: tiny, bovw, pretrained"),
    ("select --data digits --strategy margin --budget 5 --features tiny --out {out}",
     "features of an extractor (tiny) give a strategy features only, not probs, which strategy 'margin' needs"),
    ("select --data digits --strategy coreset --budget 5 --features tiny --set features.nope=1 --out {out}",
     "--set features.nope: features 'tiny' has no option 'nope'; its options: size"),
    ("select --data digits --strategy coreset --budget 5 --features tiny --set features.size=abc --out {out}",
     "--set features.size: features 'tiny' option size: 'abc' is not a valid int"),
    ("select --data digits --strategy coreset --budget 5 --set features.size=8 --out {out}",
     "--set features.size: an option of the --features extractor, but --features is not given"),
    ("select --data digits --strategy coreset --budget 5 --features pretrained --set features.weights={d}/missing.pt "
     "--out {out}", "weights {d}/missing.pt: no such file"),
    ("select --data digits --strategy coreset --budget 5 --features pretrained --set features.weights={d}/file.txt "
     "--out {out}", "weights {d}/file.txt: not a state dict torch.load(weights_only=True) can read"),
    ("select --data digits --strategy coreset --budget 5 --features pretrained --set features.weights={d}/bad-keys.pt "
     "--out {out}", "(features pretrained: name their architecture with the option model)"),
    ("select --data digits --strategy coreset --budget 5 --features pretrained "
     "--set features.weights=torchvision:resnet99 --out {out}", "weights 'torchvision:resnet99': unknown name"),
    ("select --data digits --strategy coreset --budget 5 --features pretrained --set features.weights={d}/bad-keys.pt "
     "--set features.model=nope --out {out}", "pretrained model 'nope' is not a model"),
    ("prune --data digits --fractions 0.5 --strategies coreset,margin --features tiny --out {out}",
     "not probs, which strategy 'margin' needs: choose a strategy over features"),
    ("prune --data digits --fractions 0.5 --strategies coreset --features tiny --set proxy.epochs=1 --out {out}",
     "proxy recipe overrides (epochs) apply to a proxy network, which features 'tiny' replace"),
    ("prune --data digits --fractions 0.5 --strategies coreset --set features.size=8 --out {out}",
     "--set features.size: an option of the --features extractor, but --features is not given"),
    (f"{AL} digits --initial-strategy typiclust",
     "initial strategy 'typiclust' chooses over features, and nothing is trained before the first cycle"),
    (f"{AL} digits --features tiny",
     "features apply to an initial strategy over features: give initial_strategy (--initial-strategy typiclust)"),
    (f"{AL} digits --initial-strategy margin --features tiny",
     "not probs, which strategy 'margin' needs"),
    (f"{AL} digits --initial-strategy nope --features tiny", "unknown strategy 'nope'"),
    (f"{AL} digits --initial-strategy typiclust --features tiny --stratified-initial",
     "stratified_initial applies to the random initial set, not to initial strategy 'typiclust'"),
    (f"{AL} digits --initial-strategy typiclust --features tiny "
     "--set strategy.typiclust.nope=1",
     "--set strategy.typiclust.nope: unknown option(s) nope for strategy 'typiclust'"),
    # ------------------------------------------------ prune
    ("prune --data digits --fractions 0.5,x --strategies random --out {out}",
     "argument --fractions: expected numbers separated by commas, got '0.5,x'"),
    ("prune --data digits --fractions 1.0 --strategies random --out {out}", "fraction 1.0 must be in (0, 1)"),
    ("prune --data digits --fractions 0 --strategies random --out {out}", "fraction 0.0 must be in (0, 1)"),
    ("prune --data digits --fractions 1.5 --strategies random --out {out}", "fraction 1.5 must be in (0, 1)"),
    ("prune --data digits --fractions 0.5,0.5 --strategies random --out {out}", "fractions must be distinct"),
    ("prune --data digits --fractions 0.5 --strategies nope --out {out}", "unknown strategy 'nope'"),
    ("prune --data digits --fractions 0.5 --strategies random,random --out {out}", "strategies must be distinct"),
    ("prune --data digits --fractions 0.5 --strategies margin --set strategy.margin.nope=1 --out {out}",
     "--set strategy.margin.nope: unknown option(s) nope for strategy 'margin'"),
    ("prune --data digits --fractions 0.5 --strategies margin --set strategy.entropy.temperature=2 --out {out}",
     "options given for strategy 'entropy', which is not among the strategies"),
    ("prune --data digits --fractions 0.5 --strategies margin --set strategy.temperature=2 --out {out}",
     "--set strategy.temperature: expected strategy.NAME.KEY"),
    ("prune --data digits --fractions 0.5 --strategies margin --set proxy.nope=1 --out {out}",
     "--set proxy.nope: unknown key 'proxy.nope'"),
    ("prune --data digits --fractions 0.5 --strategies margin --set cv.epochs=1 --out {out}",
     "--set cv.epochs: this command takes no cv.KEY"),
    ("prune --data digits --fractions 0.5 --strategies random --seeds 0 --out {out}",
     "argument --seeds: the number of seeds must be >= 1"),
    ("prune --data digits --fractions 0.5 --strategies random --seeds 0,-1 --out {out}",
     "argument --seeds: seeds are ints >= 0, got '0,-1'"),
    ("prune --data digits --fractions 0.5 --strategies random --seeds 1,1 --out {out}",
     "--seeds must be distinct and at least one, got [1, 1]"),
    ("prune --data digits --fractions 0.5 --strategies random --seeds x --out {out}",
     "argument --seeds: expected a count or seeds separated by commas"),
    (f"prune --data digits --fractions 0.5 --strategies margin --seeds 1 {QUICK} "
     "--set strategy.margin.temperature=abc --out {out}", "temperature must be a number > 0 or 'fit', got 'abc'"),
    # ------------------------------------------------ al (simulated)
    ("al --data digits --initial abc --budget 10 --cycles 2 --strategy random --out {out}",
     "argument --initial: invalid int value: 'abc'"),
    ("al --data digits --initial 0 --budget 10 --cycles 2 --strategy random --out {out}",
     "initial must be an int >= 1, got 0"),
    ("al --data digits --initial 100000 --budget 10 --cycles 2 --strategy random --out {out}",
     "initial 100000 + (cycles - 1) x budget 10 = 100010 labels, more than the 1347 samples of the train split"),
    ("al --data digits --initial 10 --budget 100000 --cycles 2 --strategy random --out {out}",
     "initial 10 + (cycles - 1) x budget 100000 = 100010 labels, more than the 1347 samples"),
    ("al --data digits --initial 10 --budget 10 --cycles 1000 --strategy random --out {out}",
     "initial 10 + (cycles - 1) x budget 10 = 10000 labels, more than the 1347 samples"),
    ("al --data digits --initial 10 --budget 0 --cycles 2 --strategy random --out {out}",
     "budget must be an int >= 1, got 0"),
    ("al --data digits --initial 10 --budget 10 --cycles 0 --strategy random --out {out}",
     "cycles must be an int >= 1, got 0"),
    ("al --data digits --initial 10 --budget 10 --cycles 2 --trials 0 --strategy random --out {out}",
     "trials must be an int >= 1, got 0"),
    ("al --data digits --initial 10 --budget 10 --cycles 2 --strategy nope --out {out}", "unknown strategy 'nope'"),
    ("al --data digits --initial 10 --budget 10 --cycles 2 --strategy '' --out {out}",
     "strategies must be distinct and at least one, got []"),
    ("al --data digits --initial 10 --budget 10 --cycles 2 --strategy margin --set strategy.margin.nope=1 "
     "--out {out}", "--set strategy.margin.nope: unknown option(s) nope for strategy 'margin'"),
    ("al --data digits --initial 10 --budget 10 --cycles 2 --strategy self_confidence --out {out}",
     "strategy 'self_confidence' needs labels"),
    ("al --data digits --initial 10 --budget 10 --cycles 2 --strategy random --pool-subset 5 --out {out}",
     "pool_subset must be an int >= the budget (10), got 5"),
    ("al --data digits --initial 10 --budget 10 --cycles 2 --strategy random --set proxy.epochs=1 --out {out}",
     "--set proxy.epochs: this command takes no proxy.KEY"),
    ("al --data digits --initial 10 --budget 10 --cycles 2 --strategy random --early-runs 0 --out {out}",
     "early_runs must be an int >= 1, got 0"),
    # ------------------------------------------------ clean
    ("clean --data digits --folds 1 --out {out}", "--folds must be an int >= 2, got 1"),
    ("clean --data digits --folds abc --out {out}", "argument --folds: invalid int value: 'abc'"),
    ("clean --data digits --folds 1000 --out {out}",
     "--folds 1000 is larger than the smallest class (class '8' has 130 samples)"),
    ("clean --data folder:{d}/two --folds 6 --out {out}",
     "--folds 6 is larger than the smallest class (class 'a' has 5 samples)"),
    ("clean --data digits --inject-noise 1.5 --out {out}", "--inject-noise must be a rate in [0, 1), got 1.5"),
    ("clean --data digits --inject-noise -0.1 --out {out}", "--inject-noise must be a rate in [0, 1), got -0.1"),
    ("clean --data digits --inject-noise abc --out {out}", "argument --inject-noise: invalid float value"),
    ("clean --data digits --noise-kind asymmetric --out {out}",
     "--noise-kind and --noise-seed apply only with --inject-noise RATE"),
    ("clean --data digits --inject-noise 0.2 --noise-seed -1 --out {out}",
     "argument --noise-seed: expected a seed, an int >= 0, got '-1'"),
    ("clean --data digits --method nope --out {out}", "argument --method: invalid choice: 'nope'"),
    ("clean --data digits --filter-by nope --out {out}", "argument --filter-by: invalid choice: 'nope'"),
    ("clean --data digits --remove 0 --out {out}", "argument --remove: expected auto or a count >= 1, got '0'"),
    ("clean --data digits --remove 100000 --out {out}",
     "--remove 100000 is not smaller than the train split (1347 samples)"),
    ("clean --data digits --flagged-images -1 --out {out}", "flagged_images must be an int >= 0, got -1"),
    ("clean --data digits --seeds 1,1 --out {out}", "--seeds must be distinct and at least one"),
    ("clean --data digits --seeds -1 --out {out}", "argument --seeds: the number of seeds must be >= 1, got '-1'"),
    ("clean --data digits --set cv.nope=1 --out {out}", "--set cv.nope: unknown key 'cv.nope'"),
    ("clean --data digits --set cv.lr=-1 --out {out}", "recipe option lr=-1.0 is not valid"),
    ("clean --data digits --set strategy.margin.temperature=2 --out {out}",
     "--set strategy.margin.temperature: this command takes no strategy.KEY"),
    ("clean --data folder:{d}/two --folds 2 --test-fraction 0 --remove auto --out {out}",
     "folder:{d}/two has no images in its test split"),
    ("clean --data digits --duplicates --folds 3 --out {out}",
     "--duplicates searches the images for copies and trains nothing: --folds is an option of the label-issue "
     "search"),
    ("clean --data digits --duplicates --method confident_learning --remove auto --set lr=1 --out {out}",
     "--method, --remove, --set are options of the label-issue search"),
    ("clean --data digits --duplicates --noise-seed 0 --out {out}", "--noise-seed is an option of the label-issue"),
    ("clean --data digits --hash-distance 4 --out {out}", "--hash-distance applies only with --duplicates"),
    ("clean --data digits --hash-distance 4 --min-cosine 0.9 --out {out}",
     "--hash-distance, --min-cosine apply only with --duplicates"),
    ("clean --data digits --duplicates --hash-distance 17 --out {out}",
     "--hash-distance must be an int from 0 to 16 (bits of the 64-bit perceptual hash), got 17"),
    ("clean --data digits --duplicates --min-cosine 1.5 --out {out}", "--min-cosine must be a number from 0 to 1"),
    ("clean --data digits --duplicates --min-cosine abc --out {out}", "argument --min-cosine: invalid float value"),
    ("clean --data folder:{d}/missing --duplicates --out {out}", "{d}/missing does not exist"),
    ("clean --data folder:{d}/corrupt --duplicates --out {out}", "cannot read the image {d}/corrupt/a/broken.png"),
    ("clean --data digits --duplicates --out {d}/two --force", "{d}/two holds files that are not a run's (a, b)"),
    # ------------------------------------------------ calibrate
    ("calibrate {d}/missing", "{d}/missing is not a run folder (no config.json)"),
    ("calibrate {d}/file.txt", "{d}/file.txt is not a run folder (no config.json)"),
    ("calibrate {d}/empty", "{d}/empty is not a run folder (no config.json)"),
    ("calibrate {d}/lab", "{d}/lab/config.json has no recipe: it is not a run of one trained model"),
    ("calibrate {d}/run-without-hold-out", "run folder {d}/run-without-hold-out has no hold-out (val_indices.npy)"),
    ("calibrate {d}/run --bins 0", "bins must be an int >= 1, got 0"),
    ("calibrate {d}/run --bins abc", "argument --bins: invalid int value: 'abc'"),
    ("calibrate {d}/run --device nope", "recipe option device='nope' is not valid"),
    ("calibrate {d}/run --device cuda:99", "device 'cuda:99' is not available"),
    ("calibrate", "the following arguments are required: RUN_DIR"),
    # ------------------------------------------------ presentation-attack detection: train --pad-bona-fide, evaluate
    ("train --out {out} --data folder:{d}/two --pad-bona-fide c",
     "--pad-bona-fide 'c' is not a class of folder:{d}/two; its classes: a, b"),
    ("train --out {out} --data folder:{d}/one --pad-bona-fide a",
     "folder:{d}/one has 1 class (a): a classifier needs two or more"),
    ("train --out {out} --data folder:{d}/two --pad-bona-fide a --pad-threshold 1.5",
     "--pad-threshold 1.5 is outside the score range [0, 1]"),
    ("train --out {out} --data folder:{d}/two --pad-bona-fide a --pad-threshold far:0.1",
     "--pad-threshold 'far:0.1' does not parse: write eer, apcer:SHARE (e.g. apcer:0.05) or a threshold in [0, 1]"),
    ("train --out {out} --data digits --pad-threshold eer", "--pad-threshold needs --pad-bona-fide CLASS"),
    ("evaluate {d}/run --pad-bona-fide x --out {out}", "--pad-bona-fide 'x' is not a class of digits; its classes: 0, 1"),
    ("evaluate {d}/run --pad-bona-fide 0 --pad-threshold -0.1 --out {out}",
     "--pad-threshold -0.1 is outside the score range [0, 1]"),
    ("evaluate {d}/run --pad-bona-fide 0 --pad-threshold apcer:x --out {out}",
     "--pad-threshold 'apcer:x' does not parse: apcer:SHARE needs a share in [0, 1]"),
    ("evaluate {d}/run --pad-bona-fide 0 --out {d}/run", "--out {d}/run is the run folder {d}/run"),
    ("evaluate {d}/run --pad-bona-fide 0 --out {d}/run/pad", "--out {d}/run/pad is inside the run folder {d}/run"),
    ("evaluate {d}/run-without-hold-out --pad-bona-fide 0 --out {out}",
     "run folder {d}/run-without-hold-out has no hold-out (val_indices.npy) and digits no val split"),
    ("evaluate {d}/missing --pad-bona-fide 0 --out {out}", "{d}/missing is not a run folder (no config.json)"),
    ("evaluate {d}/lab --pad-bona-fide a --out {out}", "{d}/lab/config.json has no recipe"),
    ("evaluate {d}/run --out {out}", "the following arguments are required: --pad-bona-fide"),
    # ------------------------------------------------ report
    ("report {d}/missing --out {out}.html", "{d}/missing does not exist"),
    ("report {d}/file.txt --out {out}.html", "{d}/file.txt is not a folder"),
    ("report {d}/empty --out {out}.html", "{d}/empty is not a Winnow run folder: it has no config.json"),
    ("report {d}/bad-config --out {out}.html", "{d}/bad-config: a run file is not valid JSON"),
    ("report {d}/run --out {d}/file.txt", "{d}/file.txt exists and is not a Winnow report"),
    ("report {d}/run --out {d}/empty", "{d}/empty exists and is not a Winnow report"),
    ("report --out {out}.html", "the following arguments are required: RUN_DIR"),
    # ------------------------------------------------ al init
    (f"{INIT} folder:{{d}}/missing", "{d}/missing does not exist"),
    (f"{INIT} folder:{{d}}/file.txt", "{d}/file.txt is neither a folder nor a .zip archive"),
    (f"{INIT} folder:{{d}}/empty", "no images in {d}/empty"),
    (f"{INIT} folder:{{d}}/corrupt", "cannot read the image {d}/corrupt/a/broken.png"),
    (f"{INIT} digits", "unlabelled images come from a folder:PATH spec (a directory or .zip), not 'digits'"),
    (f"{INIT} folder:{{d}}/two --image-size 0", "image_size must be a positive integer, got 0"),
    (f"{INIT} folder:{{d}}/two --strategy nope", "unknown strategy 'nope'"),
    (f"{INIT} folder:{{d}}/two --set strategy.nope=1", "--set strategy.nope: unknown option(s) nope"),
    (f"{INIT} folder:{{d}}/two --set nope=1", "--set nope: unknown key 'nope'"),
    (f"{INIT} folder:{{d}}/two --set lr=-1", "recipe option lr=-1.0 is not valid"),
    (f"{INIT} folder:{{d}}/two --epochs 0", "recipe option epochs=0.0 is not valid"),
    (f"{INIT} folder:{{d}}/two --model nope", "unknown model 'nope'"),
    (f"{INIT} folder:{{d}}/two --device nope", "recipe option device='nope' is not valid"),
    (f"{INIT} folder:{{d}}/two --mc-passes 0", "mc_passes must be an int >= 1, got 0"),
    ("al init --data folder:{d}/two --labels {d}/one-class.csv --out {out}",
     "the labels of {d}/one-class.csv names 1 class(es) ['a']; a classifier needs at least two"),
    ("al init --data folder:{d}/two --classes a --out {out}", "a classifier needs at least two"),
    ("al init --data folder:{d}/two --classes a,a --out {out}", "classes must be distinct"),
    ("al init --data folder:{d}/two --labels {d}/missing.csv --out {out}",
     "labels file {d}/missing.csv does not exist"),
    ("al init --data folder:{d}/two --labels {d}/bad-labels.csv --out {out}",
     "{d}/bad-labels.csv: a problem, nothing was written:\n  line 2: "),
    ("al init --data folder:{d}/two --labels {d}/file.txt --out {out}",
     "{d}/file.txt: needs the columns path and label"),
    pytest.param("al init --data folder:{d}/two --labels {d}/latin1-labels.csv --out {out}",
                 "{d}/latin1-labels.csv"),
    pytest.param("al init --data folder:{d}/two --labels {d}/folder.csv --out {out}",
                 "labels file {d}/folder.csv is not a file"),
    ("al init --data folder:{d}/two --labels {d}/labels.csv --out {d}/file.txt",
     "{d}/file.txt exists and is not a folder"),
    ("al init --data folder:{d}/two --labels {d}/labels.csv --out {d}/two --force",
     "{d}/two holds files that are not a run's (a, b)"),
    # ------------------------------------------------ al next
    ("al next {d}/missing --budget 2", "{d}/missing is not a labelling folder (no config.json)"),
    ("al next {d}/file.txt --budget 2", "{d}/file.txt is not a labelling folder (no config.json)"),
    ("al next {d}/run --budget 2", "{d}/run holds a run of 'train', not a labelling folder"),
    ("al next {d}/lab --budget 0", "budget must be an int >= 1, got 0"),
    ("al next {d}/lab --budget abc", "argument --budget: invalid int value: 'abc'"),
    ("al next {d}/lab --budget 100000", "budget 100000 is larger than the pool of 10 images"),
    ("al next {d}/lab --budget 2 --strategy nope", "unknown strategy 'nope'"),
    ("al next {d}/lab --budget 2 --set strategy.nope=1", "unknown option(s) nope for strategy 'margin'"),
    ("al next {d}/lab --budget 2 --set lr=1", "--set lr: this command takes no recipe KEY"),
    ("al next {d}/lab --budget 2 --seed -1", "argument --seed: expected a seed, an int >= 0, got '-1'"),
    ("al next {d}/lab --budget 2 --strategy self_confidence", "strategy 'self_confidence' needs labels"),
    # ------------------------------------------------ al import, al status
    ("al import {d}/missing {d}/answers.csv", "{d}/missing is not a labelling folder (no config.json)"),
    ("al import {d}/run {d}/answers.csv", "{d}/run holds a run of 'train', not a labelling folder"),
    ("al import {d}/lab {d}/missing.csv", "answers file {d}/missing.csv does not exist"),
    ("al import {d}/lab {d}/bad-answers.csv", "{d}/bad-answers.csv: a problem, nothing was imported"),
    ("al import {d}/lab {d}/bad.json", "{d}/bad.json: not a JSON file"),
    ("al import {d}/lab {d}/file.txt", "answers file {d}/file.txt: give a .csv (path,label)"),
    pytest.param("al import {d}/lab {d}/latin1-labels.csv", "{d}/latin1-labels.csv"),
    pytest.param("al import {d}/lab {d}/folder.csv", "answers file {d}/folder.csv is not a file"),
    ("al import {d}/lab", "the following arguments are required: FILE"),
    ("al status {d}/missing", "{d}/missing is not a labelling folder (no config.json)"),
    ("al status {d}/empty", "{d}/empty is not a labelling folder (no config.json)"),
    ("al status {d}/run", "{d}/run holds a run of 'train', not a labelling folder"),
    # ------------------------------------------------ no command, unknown command
    ("", "the following arguments are required: COMMAND"),
    ("nope", "argument COMMAND: invalid choice: 'nope'"),
]


def _png(path, value: int, size: int = 8) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path)


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """The user's files the cases point at: image folders (two classes of six 8x8 PNGs, one class,
    one with a corrupt image, an empty one), labelled-set and label files with bad rows, a trained
    digits run with a hold-out and one without, and a labelling folder of the two classes."""
    root = tmp_path_factory.mktemp("user")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WINNOW_CACHE", str(tmp_path_factory.mktemp("cache")))
        for i in range(6):
            _png(root / "two" / "a" / f"{i}.png", 10 + i)
            _png(root / "two" / "b" / f"{i}.png", 200 + i)
            _png(root / "one" / "a" / f"{i}.png", 10 + i)
            _png(root / "corrupt" / "a" / f"{i}.png", 10 + i)
            _png(root / "corrupt" / "b" / f"{i}.png", 200 + i)
        (root / "corrupt" / "a" / "broken.png").write_bytes(b"not a png")
        (root / "empty").mkdir()
        (root / "folder.csv").mkdir()
        (root / "file.txt").write_text("hello\n")
        torch.save({"conv1.weight": torch.zeros(1), "nope.weight": torch.zeros(1)}, root / "bad-keys.pt")
        (root / "bad-config").mkdir()
        (root / "bad-config" / "config.json").write_text("{")

        digits = load("digits")
        train = digits.train_indices
        first_of_class = [int(train[digits.labels.numpy()[train] == c][0]) for c in range(5)]
        (root / "few.csv").write_text("index\n" + "".join(f"{i}\n" for i in first_of_class))
        assert train[1] == 2  # the twice.csv case names it
        (root / "bad-row.csv").write_text(f"index\n{train[0]}\nabc\n")
        (root / "outside.csv").write_text("index\n99999\n")
        (root / "twice.csv").write_text(f"index\n{train[1]}\n{train[1]}\n")
        (root / "no-column.csv").write_text("number\n1\n")
        (root / "header-only.csv").write_text("index\n")
        (root / "latin1.csv").write_bytes("index\n\u00e9\n".encode("latin-1"))
        np.save(root / "floats.npy", np.array([1.0, 2.0]))
        np.save(root / "objects.npy", np.array([{"index": 1}], dtype=object), allow_pickle=True)
        (root / "not-npy.npy").write_text("not an array\n")

        (root / "labels.csv").write_text("path,label\na/0.png,a\nb/0.png,b\n")
        (root / "one-class.csv").write_text("path,label\na/0.png,a\na/1.png,a\n")
        (root / "bad-labels.csv").write_text("path,label\nnope/0.png,a\na/1.png,b\n")
        (root / "answers.csv").write_text("path,label\na/2.png,a\n")
        (root / "bad-answers.csv").write_text("path,label\nmissing.png,b\n")
        (root / "bad.json").write_text("{not json")
        (root / "latin1-labels.csv").write_bytes("path,label\na/0.png,caf\u00e9\n".encode("latin-1"))

        assert main(["train", "--data", "digits", "--epochs", "0.01", "--set", "val_fraction=0.1",
                     "--out", str(root / "run")]) == 0
        assert main(["train", "--data", "digits", "--epochs", "0.01", "--out", str(root / "run-without-hold-out")]) == 0
        assert main(["al", "init", "--data", f"folder:{root / 'two'}", "--labels", str(root / "labels.csv"),
                     "--out", str(root / "lab")]) == 0
        yield root


def _snapshot(root) -> dict:
    """Every file and folder under `root` with its size and modification time."""
    return {str(path.relative_to(root)): (path.is_dir(), path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(root.rglob("*"))}


def _line(case) -> str:
    return case.values[0] if hasattr(case, "values") else case[0]


def test_every_case_is_a_distinct_command_line():
    lines = [_line(case) for case in CASES]
    assert len(set(lines)) == len(lines), [line for line in lines if lines.count(line) > 1]


@pytest.mark.parametrize(("line", "fragment"), CASES, ids=[_line(case) for case in CASES])
def test_wrong_input_is_one_line_naming_it(line, fragment, user_files, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WINNOW_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # a default output (report.html) would land here, not in the repository
    values = {"d": user_files, "out": tmp_path / "out"}
    argv = [part.format(**values) for part in shlex.split(line)]
    before = _snapshot(user_files)
    capsys.readouterr()
    try:
        code = main(argv)
        parsed = True
    except SystemExit as exit_:  # argparse's own errors
        code, parsed = exit_.code, False
    error = capsys.readouterr().err
    assert code == 2, error
    assert "Traceback" not in error, error
    lines = error.splitlines()
    ours = [text for text in lines if re.match(r"winnow[ :]", text)]
    assert len(ours) == 1 and re.match(r"winnow( [a-z ]+)?: error: ", ours[0]), error
    if parsed:
        before_message = lines[:lines.index(ours[0])]  # progress lines of a proxy trained before the error
        assert all(text.startswith(("training: ", "predicting: ")) for text in before_message), error
    else:
        assert lines[0].startswith("usage: winnow") and lines[-1] == ours[0], error
    assert fragment.format(**values) in error, error
    assert _snapshot(user_files) == before, "a file of the user's changed"
