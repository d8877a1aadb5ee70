"""The `flowenedet` subcommands end to end on tiny synthetic data and random ERFNet weights."""

import json

import pytest

from flowenedet_core.cli.main import main
from flowenedet_core.data.datasets import AnomalyFolder


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    common = ["--backbone", "erfnet", "--weights", str(tiny_data["weights"]), "--size", "64x128"]
    train_data = f"cityscapes:{tiny_data['cityscapes']}:train"
    assert main(["estimate-stats", *common, "--data", train_data,
                 "--out", str(out / "stats.json")]) == 0
    for variant in ("fed-u", "fed-c"):
        assert main(["train", *common, "--data", train_data, "--variant", variant,
                     "--stats", str(out / "stats.json"), "--iters", "6", "--blocks", "2",
                     "--crop", "32x64", "--scales", "0.5,1", "--out", str(out / variant),
                     "--cache-dir", str(out / "cache")]) == 0
    return out, common


def test_train_writes_safetensors_and_sidecar(trained):
    out, _ = trained
    sidecar = json.loads((out / "fed-c" / "fed.json").read_text())
    assert (out / "fed-c" / "fed.safetensors").is_file()
    assert sidecar["config"]["variant"] == "fed-c"
    assert sidecar["backbone"]["name"] == "erfnet"
    assert len(sidecar["statistics"]["mean"]) == 19
    assert sidecar["training"]["options"]["iters"] == 6


@pytest.mark.parametrize("mode", [["--draws", "2"], ["--online", "--workers", "1"]])
def test_train_on_sampler_crops_records_views_and_sampler_statistics(tiny_data, tmp_path, mode):
    argv = ["train", "--backbone", "erfnet", "--weights", str(tiny_data["weights"]), "--size",
            "64x128", "--data", f"cityscapes:{tiny_data['cityscapes']}:train@!0:1",
            "--variant", "fed-u", "--views", "sampler", *mode, "--ratio-range", "0.5,1.5",
            "--stats-views", "4", "--iters", "3", "--blocks", "1", "--crop", "32x64",
            "--out", str(tmp_path / "fed"), "--cache-dir", str(tmp_path / "cache")]
    assert main(argv) == 0
    training = json.loads((tmp_path / "fed" / "fed.json").read_text())["training"]
    assert training["views"]["sampler"]["ratio_range"] == [0.5, 1.5]
    assert training["statistics_from"] == "sampler"
    assert training["options"]["flip"] is False  # the sampler flips the images
    if "--online" in mode:
        assert training["views"]["draws"] == "online"
    else:
        assert training["views"]["draws"] == 2
        assert 0 <= training["views"]["outcome_shares"]["misclassified_of_positives"] <= 1


def test_train_resumes_from_its_snapshot(trained, tiny_data):
    out, common = trained
    argv = ["train", *common, "--data", f"cityscapes:{tiny_data['cityscapes']}:train",
            "--variant", "fed-u", "--stats", str(out / "stats.json"), "--iters", "8",
            "--blocks", "2", "--crop", "32x64", "--scales", "0.5,1", "--out", str(out / "fed-u"),
            "--cache-dir", str(out / "cache")]
    assert main(argv) == 0
    sidecar = json.loads((out / "fed-u" / "fed.json").read_text())
    assert sidecar["training"]["options"]["iters"] == 8


def test_eval_writes_json_table_and_plots(trained, tiny_data, capsys):
    out, common = trained
    report = out / "eval.json"
    assert main(["eval", *common, "--fed", f"fedu={out / 'fed-u'}",
                 "--fed", f"fedc={out / 'fed-c'}",
                 "--data", f"toy=anomaly:{tiny_data['anomaly']}",
                 "--data", f"val=cityscapes:{tiny_data['cityscapes']}:val",
                 "--scores", "msp,msp20,maxlogit,energy,entropy,sml,mcdropout,fed",
                 "--boundary-smoothing", "--open-threshold", "msp=0.5",
                 "--json", str(report), "--plots", str(out / "plots")]) == 0
    results = json.loads(report.read_text())["datasets"]
    assert set(results) == {"toy", "val"}
    for name in ("msp", "fedu", "fedc", "sml+bs", "mcdropout"):
        assert set(results["toy"][name]) >= {"ap", "auroc", "fpr95"}
        assert 0 <= results["toy"][name]["ap"] <= 100
    assert 0 <= results["val"]["miou"] <= 100
    assert "open_miou" in results["val"]["msp"]
    assert results["toy"]["skipped_without_anomaly"] == 1
    assert "| msp |" in capsys.readouterr().out
    assert (out / "plots" / "toy_pr.png").is_file()


def test_missing_weights_give_one_clear_line(tiny_data, tmp_path, capsys):
    code = main(["estimate-stats", "--backbone", "erfnet", "--weights", str(tmp_path / "no.pth"),
                 "--data", f"cityscapes:{tiny_data['cityscapes']}:train",
                 "--out", str(tmp_path / "s.json")])
    assert code == 2
    assert capsys.readouterr().err.strip().startswith("flowenedet: error: weights file not found")


def test_bad_data_spec_is_rejected(tiny_data, capsys):
    code = main(["eval", "--backbone", "erfnet", "--weights", str(tiny_data["weights"]),
                 "--data", "nonsense:/nowhere", "--scores", "msp"])
    assert code == 2
    assert "expected [NAME=]KIND:DIR" in capsys.readouterr().err


def test_fed_score_without_checkpoint_is_rejected(tiny_data, capsys):
    code = main(["eval", "--backbone", "erfnet", "--weights", str(tiny_data["weights"]),
                 "--size", "64x128", "--data", f"anomaly:{tiny_data['anomaly']}",
                 "--scores", "msp,fed"])
    assert code == 2
    assert "needs --fed" in capsys.readouterr().err


def test_anomaly_folder_reads_two_as_anomaly(tiny_data, tmp_path):
    import numpy as np

    from conftest import write_png

    write_png(tmp_path / "images" / "a.png", np.zeros((8, 8, 3), np.uint8))
    write_png(tmp_path / "labels_masks" / "a.png", np.full((8, 8), 2, np.uint8))
    assert AnomalyFolder("x", tmp_path)[0].label.max() == 1


def test_fed_c_trained_on_other_features_is_refused(trained, tiny_data, capsys):
    out, common = trained
    sidecar_path = out / "fed-c" / "fed.json"
    original = sidecar_path.read_text()
    sidecar = json.loads(original)
    sidecar["backbone"]["feature_channels"] = 64
    sidecar_path.write_text(json.dumps(sidecar))
    try:
        code = main(["eval", *common, "--fed", str(out / "fed-c"), "--scores", "fed",
                     "--data", f"anomaly:{tiny_data['anomaly']}"])
    finally:
        sidecar_path.write_text(original)
    assert code == 2
    assert "trained on 64-channel features" in capsys.readouterr().err


def eval_argv(tiny_data, *options: str) -> list[str]:
    return ["eval", "--backbone", "erfnet", "--weights", str(tiny_data["weights"]),
            "--size", "64x128", "--data", f"toy=anomaly:{tiny_data['anomaly']}",
            "--scores", "msp,energy", *options]


def test_eval_with_test_time_scales_records_them_and_smooths(tiny_data, tmp_path):
    report = tmp_path / "eval.json"
    assert main(eval_argv(tiny_data, "--gaussian-smoothing", "--tta", "1,0.5",
                          "--json", str(report), "--plots", str(tmp_path / "plots"))) == 0
    assert (tmp_path / "plots" / "toy_pr.png").stat().st_size > 1000
    written = json.loads(report.read_text())
    assert written["meta"]["tta_scales"] == [1.0, 0.5]
    assert list(written["datasets"]["toy"])[:4] == ["msp", "energy", "msp+gs", "energy+gs"]


def test_eval_rejects_test_time_scales_without_scale_one(tiny_data, capsys):
    with pytest.raises(SystemExit, match="2"):
        main(eval_argv(tiny_data, "--tta", "0.5,0.25"))
    assert "argument --tta: test-time scales [0.5, 0.25] must be" in capsys.readouterr().err


def test_train_with_outliers_controls_and_margin_then_meta_classified_eval(tiny_data, tmp_path,
                                                                        capsys):
    import numpy as np

    from flowenedet_core.metrics.meta_classifier import FEATURES, fit_logistic

    from conftest import write_proxy

    common = ["--backbone", "erfnet", "--weights", str(tiny_data["weights"]), "--size", "64x128"]
    proxy = write_proxy(tmp_path / "proxy")
    fed = tmp_path / "fed"
    assert main(["train", *common, "--data", f"cityscapes:{tiny_data['cityscapes']}:train",
                 "--variant", "fed-u", "--margin", "--condition-prior", "--dropout", "0",
                 "--views", "sampler", "--draws", "2", "--ratio-range", "1,1",
                 "--outliers", str(proxy),
                 "--outlier-classes", "a", "--outlier-weight", "3", "--stats-views", "4",
                 "--iters", "3", "--blocks", "1", "--crop", "32x64", "--out", str(fed),
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    sidecar = json.loads((fed / "fed.json").read_text())
    assert sidecar["config"]["margin"] is True and sidecar["config"]["dropout"] == 0
    assert sidecar["config"]["condition_prior"] is True
    views = sidecar["training"]["views"]
    assert views["sampler"]["paste"]["classes"] == "a" and views["sampler"]["paste"]["digest"]
    assert views["outcome_shares"]["outlier_of_all"] > 0
    assert sidecar["training"]["options"]["outlier_weight"] == 3
    assert sidecar["training"]["options"]["init_crops"] == 32
    anomaly = f"anomaly:{tiny_data['anomaly']}"
    # a random backbone finds no real object: one clear line, nothing written
    assert main(["fit-meta", *common, "--fed", str(fed), "--data", anomaly]) == 2
    assert "components of both kinds" in capsys.readouterr().err
    assert not (fed / "meta.json").exists()
    rows = np.random.default_rng(0).normal(size=(30, len(FEATURES)))
    fit_logistic(rows, (rows[:, 0] > 0).astype(float), "oe").save(fed / "meta.json")
    report = tmp_path / "eval.json"
    assert main(["eval", *common, "--fed", f"oe={fed}", "--data", f"toy={anomaly}",
                 "--scores", "msp,fed", "--components", "--json", str(report)]) == 0
    toy = json.loads(report.read_text())["datasets"]["toy"]
    assert set(toy["oe+meta"]["components"]) >= {"siou", "ppv", "mean_f1"}
    assert "| oe+meta |" in capsys.readouterr().out


@pytest.mark.parametrize(("options", "message"), [
    (["--dropout", "1"], "dropout must be in [0, 1)"),
    (["--condition-prior"], "condition_prior needs a condition"),
    (["--views", "sampler", "--paste-controls", "2"],
     "--paste-controls is the control of --outliers"),
    (["--init-crops", "0"], "--init-crops must be >= 1, got 0"),
])
def test_invalid_train_options_are_refused(tiny_data, capsys, options, message):
    code = main(["train", "--backbone", "erfnet", "--weights", str(tiny_data["weights"]),
                 "--data", f"cityscapes:{tiny_data['cityscapes']}:train", "--variant", "fed-u",
                 *options, "--out", "unused"])
    assert code == 2
    assert message in capsys.readouterr().err
