import numpy as np

from flowenedet_core.metrics.segmentation import ConfusionMatrix, open_set_maps


def test_miou_averages_over_classes_present_in_ground_truth():
    target = np.array([0, 0, 1, 1, 255])
    prediction = np.array([0, 1, 1, 1, 2])
    matrix = ConfusionMatrix(3)
    matrix.update(prediction, target)
    # class 0: 1 / 2; class 1: 2 / 3; class 2 absent from ground truth (void ignored).
    assert np.isclose(matrix.miou(), 100 * (0.5 + 2 / 3) / 2)
    assert np.isclose(matrix.pixel_accuracy(), 75.0)


def test_open_set_maps_void_misclassified_and_rejected_pixels():
    prediction = np.array([0, 1, 1, 2])
    target = np.array([0, 0, 1, 255])
    scores = np.array([0.1, 0.9, 0.8, 0.2])
    open_prediction, open_target = open_set_maps(prediction, target, scores, 0.5, 3)
    assert open_target.tolist() == [0, 3, 1, 3]
    assert open_prediction.tolist() == [0, 3, 3, 2]
