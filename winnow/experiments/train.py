"""`winnow train`: train one model on a dataset's train split, test it, and record the run."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from .. import __version__, calibration, data, runs
from ..train import Outputs
from . import pad
from .calibrate import HOLD_OUT_FRACTION, calibrate_outputs
from .engine import TrainingSpec, check_seed, data_name, load_data, run_config, summarize_test_outputs
from .modalities import missing_modality_evaluation

log = logging.getLogger("winnow.experiments.train")


def train_run(
    source: str | data.Dataset,
    out: str | Path,
    *,
    seed: int = 0,
    model: str | None = None,
    preset: str = "auto",
    recipe_overrides: dict | None = None,
    weights: str | None = None,
    data_options: dict | None = None,
    force: bool = False,
    on_progress=None,
    calibrate: bool = False,
    tensorboard: bool = False,
    pad_bona_fide: str | None = None,
    pad_threshold: str | None = None,
) -> dict:
    """Train on `source`'s train split, test on its test split, and write the run folder `out`.

    source : a data spec, or a `Dataset` (e.g. from `winnow.data.from_arrays`)
    seed : the training's seed (weights, order, augmentation); a seed among `recipe_overrides`
        is an error
    weights : pretrained weights every trained model starts from: a state dict file or a named
        source such as torchvision:resnet50 (`winnow.weights`, `TrainingSpec.resolve`)
    on_progress : called with the trainer's progress (`winnow.progress`)

    With `tensorboard`, the per-epoch scalars (and the final test accuracy) are also written as
    TensorBoard events to `out/tensorboard` (needs the tensorboard package).

    A hold-out (`val_fraction`) is saved as `out/val_indices.npy`. With `calibrate`, a
    temperature is fitted on it after training (`experiments.calibrate`); a recipe without a
    hold-out gets val_fraction 0.1 for that. Returns the final metrics (also written to
    `out/final.json`), with the uncalibrated test ECE, NLL and Brier score, and the times:
    `wall_seconds` (the whole call, loading the data included), `decode_seconds` (loading),
    `train_seconds` and `test_seconds`.

    Data with several modalities (`Dataset.modalities`; `data_options` modalities picks the model's
    inputs): final.json["missing_modalities"] holds the test accuracy for every non-empty subset
    of them, the others zeroed, and APCER, BPCER, ACER and EER where there is a bona fide class
    (`pad_bona_fide`, or the class named bona_fide), with the threshold of `pad_threshold` fixed
    once with every modality present, as for final.json["pad"] (`experiments.modalities`).

    With `pad_bona_fide` (a class name), presentation-attack detection is evaluated too
    (`experiments.pad`): that class is bona fide, every other an attack type, the score the
    model's probability of it; the threshold (`pad_threshold`: eer, the default, apcer:SHARE or a
    number in [0, 1]) is fixed on the dataset's val split, or else on the hold-out (val_fraction
    0.1 unless the recipe has one), and applied to the test split. final.json["pad"] holds the
    test metrics, the threshold and the split that fixed it; pad_scores.npz the scores.
    """
    started = time.perf_counter()
    seed = check_seed(seed)
    summary_writer = _summary_writer_class() if tensorboard else None  # missing tensorboard: an error before the run
    if pad_threshold is not None and pad_bona_fide is None:
        raise ValueError("--pad-threshold needs --pad-bona-fide CLASS (the class that is bona fide)")
    dataset, decode_seconds = load_data(source, data_options)  # one class: an error naming it
    pad_spec = None if pad_bona_fide is None else pad.PadSpec.resolve(pad_bona_fide, pad_threshold,
                                                                      dataset.class_names, data_name(source))
    if pad_spec:  # splits without bona fide or attack presentations: an error before training
        labels = dataset.labels.numpy()
        pad.check_split(pad_spec, labels[dataset.test_indices], "test")
        if pad_spec.needs_development_split and len(dataset.val_indices):
            pad.check_split(pad_spec, labels[dataset.val_indices], "val")
    spec = TrainingSpec.resolve(dataset, model, preset, recipe_overrides, seed_option="--seed", weights=weights)
    needs_hold_out = [option for option, needed in (("--calibrate", calibrate),
                                                    ("--pad-bona-fide", pad_spec and pad_spec.needs_development_split))
                      if needed]  # the options that need a hold-out: a temperature, a threshold fixed on it
    spec, note = _with_hold_out(spec, dataset, " and ".join(needs_hold_out)) if needs_hold_out else (spec, None)
    run_dir = runs.prepare_run_dir(out, force=force)
    runs.write_json(run_dir / runs.CONFIG, {
        **run_config("train", source, data_options, dataset),
        **spec.to_config(),
        "recipe": spec.seeded(seed).to_dict(),  # the recipe as trained, its seed included
        "seed": int(seed),
        "calibrate": calibrate,
        **({"calibrate_note": note} if note else {}),
        **({"pad": pad_spec.to_config()} if pad_spec else {}),
    })
    spec = spec.attach(on_progress=on_progress)
    scalars = summary_writer(log_dir=str(run_dir / runs.TENSORBOARD)) if summary_writer else None

    def on_epoch_end(record: dict) -> None:
        runs.append_jsonl(run_dir / runs.METRICS, record)
        if scalars is not None:
            _write_scalars(scalars, record)

    result = spec.train(dataset, dataset.train_indices, seed, on_epoch_end=on_epoch_end)
    runs.save_weights(run_dir / runs.WEIGHTS, result.model)
    if result.val_indices is not None:
        runs.save_array(run_dir / runs.VAL_INDICES, result.val_indices)
    testing = time.perf_counter()
    test_outputs = spec.predict(result.model, dataset, dataset.test_indices, seed, part="testing")
    final = {**summarize_test_outputs(test_outputs, dataset.class_names), **_calibration_metrics(test_outputs)}
    test_seconds = time.perf_counter() - testing
    val_outputs = (spec.predict(result.model, dataset, result.val_indices, seed)
                   if calibrate or (pad_spec and pad_spec.needs_development_split) else None)
    if calibrate:
        final["calibration"] = _fit_calibration(val_outputs, test_outputs, run_dir)
    if pad_spec:
        development = None if val_outputs is None else (
            pad.DevelopmentSplit.of_training(dataset, result.val_indices, result.recipe.val_fraction, seed),
            val_outputs)
        final["pad"], scores = pad.pad_evaluation(pad_spec, test_outputs, development)
        pad.write_scores(run_dir, scores)
    missing = missing_modality_evaluation(spec, result.model, dataset, seed, result.val_indices, pad_spec)
    if missing is not None:  # a model of two or more modalities: every subset of them, the others zeroed
        final["missing_modalities"] = missing
    final.update({
        "val_count": 0 if result.val_indices is None else int(len(result.val_indices)),
        "train_seconds": result.train_seconds,
        "compile_seconds": result.compile_seconds,  # part of train_seconds (recipe compile)
        "test_seconds": test_seconds,
        "decode_seconds": decode_seconds,
        "epochs_run": len(result.history),
        "epochs_planned": result.recipe.epochs,  # after min_steps or the time budget set the length
        "steps": result.steps,
        "best_epoch": result.best_epoch,
        "device": result.device,
        "winnow_version": __version__,
    })
    if scalars is not None:
        scalars.add_scalar("test/accuracy", final["test_accuracy"], len(result.history))
        scalars.close()
    final["wall_seconds"] = time.perf_counter() - started
    runs.write_json(run_dir / runs.FINAL, final)
    return final


TENSORBOARD_SCALARS = {"train_loss": "train/loss", "train_accuracy": "train/accuracy", "val_accuracy": "val/accuracy",
                       "lr": "train/lr", "seconds": "time/seconds"}  # metrics.jsonl key -> TensorBoard tag


def _summary_writer_class():
    """torch.utils.tensorboard.SummaryWriter; a clear error when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ValueError("--tensorboard (tensorboard=True) needs the tensorboard package, which is not installed: "
                         "pip install tensorboard") from None
    return SummaryWriter


def _write_scalars(writer, record: dict) -> None:
    """One epoch's record as scalars at step = epoch, flushed so a stopped run keeps them."""
    for key, tag in TENSORBOARD_SCALARS.items():
        if record.get(key) is not None:
            writer.add_scalar(tag, record[key], record["epoch"])
    writer.flush()


def _with_hold_out(spec: TrainingSpec, dataset: data.Dataset, options: str) -> tuple[TrainingSpec, str | None]:
    """The spec with a hold-out for `options` (the temperature of --calibrate, the threshold of
    --pad-bona-fide), and a note when one had to be added: validation on the dataset's val split
    when it has one, else a stratified val_fraction of the train split."""
    if spec.recipe.val_fraction > 0:
        return spec, None
    where = ("validation is on, on the dataset's val split" if len(dataset.val_indices)
             else "fitted on a stratified hold-out of the train split")
    note = (f"val_fraction set to {HOLD_OUT_FRACTION} by {options}: {where}, which the model never trains on (the "
            "recipe had val_fraction 0)")
    log.warning("%s", note)
    return spec.override({"val_fraction": HOLD_OUT_FRACTION}), note


def _fit_calibration(val_outputs: Outputs, test_outputs: Outputs, run_dir: Path) -> dict:
    """Fit the temperature on the hold-out, write calibration.json; the headline for final.json."""
    record = calibrate_outputs(val_outputs, test_outputs, run_dir)
    after = record["test"]["after"]
    return {"temperature": record["temperature"], "hold_out_count": record["hold_out_count"],
            "test_ece": after["ece"], "test_nll": after["nll"], "test_brier": after["brier"]}


def _calibration_metrics(outputs: Outputs) -> dict:
    """The uncalibrated test ECE (15 bins), NLL and Brier score of `outputs`."""
    probs = calibration.softmax(outputs.logits)  # float64: no float32 rounding in the NLL
    return {"test_ece": calibration.expected_calibration_error(outputs.labels, probs),
            "test_nll": calibration.negative_log_likelihood(outputs.labels, probs),
            "test_brier": calibration.brier_score(outputs.labels, probs)}
