import pytest
import torch

pytest.importorskip("transformers")

from flowenedet_core.backbones.segformer import build_segformer, segformer_config
from flowenedet_core.errors import WeightsError


def test_segformer_loads_a_local_hf_folder_and_exposes_classifier_features(tmp_path):
    from transformers import SegformerForSemanticSegmentation

    torch.manual_seed(0)
    reference = SegformerForSemanticSegmentation(segformer_config("b0", 19)).eval()
    reference.save_pretrained(tmp_path)
    model = build_segformer(tmp_path, variant="b0")
    x = torch.randn(1, 3, 64, 128)
    with torch.no_grad():
        output = model(x)
        expected = reference(pixel_values=x).logits
    assert torch.allclose(output.logits, expected, atol=1e-5)
    assert output.features.shape == (1, 256, 16, 32)
    assert torch.allclose(model.classify(output.classifier_input), output.logits, atol=1e-5)


@pytest.mark.parametrize("variant, hidden", [("b2", 768), ("b5", 768), ("b1", 256)])
def test_segformer_configs_match_the_published_sizes(variant, hidden):
    assert segformer_config(variant, 19).decoder_hidden_size == hidden


def test_segformer_missing_folder_weights_raise(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsError, match="cannot load SegFormer"):
        build_segformer(tmp_path / "empty", variant="b0")
