"""NanoDet decoding, NMS, letterbox and aggregation on hand-built tensors with known boxes."""

import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.object_detection import (
    BGR_MEAN,
    BGR_STD,
    COCO_CLASSES,
    INPUT_SIZE,
    N_CLASSES,
    REG_BINS,
    FrameDetections,
    Letterbox,
    aggregate_detections,
    decode_frame,
    input_space,
    letterbox_frames,
    level_shapes,
    per_class_nms,
    to_frame,
)

pytestmark = pytest.mark.unit

DOG = COCO_CLASSES.index("dog")
CAR = COCO_CLASSES.index("car")


def empty_outputs():
    """Per-level scores [cells, 80] all 0 and box logits [cells, 44] all 0."""
    shapes = level_shapes()
    scores = [np.zeros((r * c, N_CLASSES), np.float32) for _, r, c in shapes]
    distributions = [np.zeros((r * c, 4 * REG_BINS), np.float32) for _, r, c in shapes]
    return scores, distributions


def place(scores, distributions, level, row, col, class_id, score, bins):
    """One object: at cell (row, col) of `level`, side distances of `bins` (l, t, r, b) bins,
    as near one-hot logits (softmax of 40 vs 0 is 1 within 1e-17)."""
    _, _, cols = level_shapes()[level]
    cell = row * cols + col
    scores[level][cell, class_id] = score
    logits = np.zeros((4, REG_BINS), np.float32)
    logits[np.arange(4), bins] = 40.0
    distributions[level][cell] = logits.ravel()


def test_coco_classes_are_nanodets_80_in_order():
    assert len(COCO_CLASSES) == N_CLASSES == len(set(COCO_CLASSES))
    assert COCO_CLASSES[:3] == ("person", "bicycle", "car")
    assert COCO_CLASSES[-1] == "toothbrush" and COCO_CLASSES[62] == "tv"


def test_decode_gives_the_known_box_and_per_class_nms():
    scores, distributions = empty_outputs()
    # Stride 16 (level 1, 26 x 26): cell centre (12.5 * 16, 10.5 * 16) = (200, 168); sides
    # l, t, r, b = 3, 4, 2, 5 bins x 16 px -> box (152, 104, 232, 248) in input pixels.
    place(scores, distributions, 1, 10, 12, DOG, 0.9, [3, 4, 2, 5])
    # The neighbour cell sees the same dog a little shifted, less sure: suppressed by NMS.
    place(scores, distributions, 1, 10, 13, DOG, 0.6, [4, 4, 1, 5])
    # The same place as another class (a car) is not suppressed by the dog: per class.
    place(scores, distributions, 1, 11, 12, CAR, 0.5, [3, 5, 2, 4])
    # Stride 8: a small person, and a below-threshold one.
    place(scores, distributions, 0, 5, 40, 0, 0.7, [1, 2, 1, 2])
    place(scores, distributions, 0, 30, 30, 0, 0.2, [1, 1, 1, 1])
    identity = Letterbox.fit(INPUT_SIZE, INPUT_SIZE)

    found = decode_frame(scores, distributions, identity, score_threshold=0.35, iou_threshold=0.5)

    assert found.class_ids.tolist() == [DOG, 0, CAR]
    np.testing.assert_allclose(found.scores, [0.9, 0.7, 0.5])
    expected = np.array(
        [
            [152, 104, 232, 248],
            [(40.5 - 1) * 8, (5.5 - 2) * 8, (40.5 + 1) * 8, (5.5 + 2) * 8],
            [152, 11.5 * 16 - 80, 232, 11.5 * 16 + 64],
        ]
    )
    np.testing.assert_allclose(found.boxes, expected / INPUT_SIZE, atol=1e-6)
    assert found.boxes.dtype == np.float32 and found.class_ids.dtype == np.int16


def test_decode_maps_boxes_back_through_the_letterbox():
    scores, distributions = empty_outputs()
    place(scores, distributions, 2, 6, 6, 0, 0.8, [2, 1, 2, 1])  # centre (208, 208)
    box = Letterbox.fit(640, 320)  # scale 0.65, 416 x 208 at offset y 104
    found = decode_frame(scores, distributions, box)
    x0, y0, x1, y1 = 208 - 64, 208 - 32, 208 + 64, 208 + 32
    frame_box = [x0 / 0.65, (y0 - 104) / 0.65, x1 / 0.65, (y1 - 104) / 0.65]
    np.testing.assert_allclose(
        found.boxes[0], np.array(frame_box) / [640, 320, 640, 320], atol=1e-6
    )


@pytest.mark.parametrize(("width", "height"), [(640, 320), (320, 640), (416, 416), (97, 1000)])
def test_decoding_in_input_space_then_mapping_equals_decoding_with_the_letterbox(width, height):
    """Cross-video batches decode in input space; mapping to the frame afterwards must give
    exactly what decoding with the frame's letterbox gives (boxes clipped to the frame)."""
    scores, distributions = empty_outputs()
    place(scores, distributions, 2, 6, 6, 0, 0.8, [2, 1, 2, 1])
    place(scores, distributions, 0, 1, 1, 3, 0.7, [3, 3, 1, 1])  # near the corner: clipped
    box = Letterbox.fit(width, height)
    direct = decode_frame(scores, distributions, box)
    mapped = to_frame(decode_frame(scores, distributions, input_space()), box)
    np.testing.assert_allclose(mapped.boxes, direct.boxes, atol=1e-6)
    assert mapped.class_ids.tolist() == direct.class_ids.tolist() and len(direct) == 2


def test_nothing_above_the_threshold_is_no_detection():
    scores, distributions = empty_outputs()
    found = decode_frame(scores, distributions, Letterbox.fit(100, 100))
    assert len(found) == 0 and found.boxes.shape == (0, 4)


def test_wrong_output_shapes_are_bad_model_output():
    scores, distributions = empty_outputs()
    with pytest.raises(DpError) as info:
        decode_frame(scores, [d[:, :40] for d in distributions], Letterbox.fit(100, 100))
    assert info.value.code == ErrorCode.MODEL_BAD_OUTPUT


def test_nms_keeps_the_best_of_overlapping_boxes_of_one_class_only():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [20, 20, 30, 30]], float)
    scores = np.array([0.5, 0.9, 0.8, 0.4])
    classes = np.array([1, 1, 2, 1])
    # IoU of the first two: 90 / 110 = 0.82 > 0.5: the 0.5 box goes.
    assert per_class_nms(boxes, scores, classes, 0.5).tolist() == [1, 2, 3]
    # At an IoU threshold above 0.82, both stay.
    assert per_class_nms(boxes, scores, classes, 0.85).tolist() == [1, 2, 0, 3]


@pytest.mark.parametrize("width, height", [(640, 360), (360, 640), (416, 416), (100, 37)])
def test_letterbox_round_trip_is_exact(width, height):
    box = Letterbox.fit(width, height)
    frame_boxes = np.array([[0, 0, width, height], [10.5, 3.25, width / 2, height / 3]])
    np.testing.assert_allclose(box.to_frame(box.to_input(frame_boxes)), frame_boxes, atol=1e-9)
    resized_w, resized_h = box.resized_size
    assert max(resized_w, resized_h) == INPUT_SIZE
    np.testing.assert_allclose(
        box.to_input(frame_boxes)[0],
        [box.offset_x, box.offset_y, box.offset_x + resized_w, box.offset_y + resized_h],
    )


def test_letterbox_frames_places_the_picture_in_bgr_and_normalises_it():
    frames = np.zeros((2, 360, 640, 3), np.uint8)
    frames[:, 100:200, 320:480] = (255, 0, 0)  # a red rectangle (RGB)
    inputs, box = letterbox_frames(frames)
    assert inputs.shape == (2, 3, INPUT_SIZE, INPUT_SIZE) and inputs.dtype == np.float32
    red_bgr = (np.array([0, 0, 255], np.float32) - BGR_MEAN) / BGR_STD
    black = -BGR_MEAN / BGR_STD
    # The rectangle found in the input maps back onto the frame's rectangle (1 px).
    is_red = np.all(np.abs(inputs[0].transpose(1, 2, 0) - red_bgr) < 1e-3, axis=-1)
    rows, cols = np.nonzero(is_red)
    found = np.array([[cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]])
    np.testing.assert_allclose(box.to_frame(found), [[320, 100, 480, 200]], atol=1.0)
    # Bars above and below the picture are black; the corner pixel is black as well.
    np.testing.assert_allclose(inputs[1, :, 0, 0], black, atol=1e-5)
    np.testing.assert_allclose(inputs[1, :, box.offset_y + 1, 1], black, atol=1e-5)
    assert box.offset_x == 0 and box.offset_y == (INPUT_SIZE - 234) // 2


def test_letterbox_frames_refuses_non_rgb_uint8():
    with pytest.raises(DpError) as info:
        letterbox_frames(np.zeros((1, 10, 10), np.uint8))
    assert info.value.code == ErrorCode.INTERNAL


def frame(boxes, classes, scores):
    return FrameDetections(
        np.asarray(boxes, np.float32).reshape(-1, 4),
        np.asarray(classes, np.int16),
        np.asarray(scores, np.float32),
    )


def test_aggregation_flattens_frames_and_counts_classes():
    detections = [
        frame([[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1], [0, 0, 1, 1]], [0, 0, DOG], [0.9, 0.8, 0.6]),
        FrameDetections.none(),
        frame([[0.1, 0.1, 0.2, 0.2]], [0], [0.7]),
    ]
    result = aggregate_detections(np.array([0.0, 0.5, 1.0]), detections)
    arrays = result.as_arrays()
    assert result.status == "ok"
    assert arrays["box_frame"].tolist() == [0, 0, 0, 2] and arrays["box_frame"].dtype == np.int32
    assert arrays["class_names"].tolist() == ["person", "person", "dog", "person"]
    assert arrays["class_names"].dtype.kind == "U" and arrays["coco_classes"].dtype.kind == "U"
    assert arrays["boxes"].shape == (4, 4) and arrays["boxes"].dtype == np.float32
    np.testing.assert_allclose(arrays["scores"], [0.9, 0.8, 0.6, 0.7])
    counts = arrays["class_counts"]
    assert counts.shape == (3, N_CLASSES) and counts.dtype == np.int32
    assert counts[:, 0].tolist() == [2, 0, 1] and counts[:, DOG].tolist() == [1, 0, 0]
    assert counts.sum() == 4
    assert float(arrays["mean_person_count"]) == pytest.approx(1.0)
    assert int(arrays["max_person_count"]) == 2 and int(arrays["detection_count"]) == 4
    assert float(arrays["person_frame_ratio"]) == pytest.approx(2 / 3)
    assert arrays["class_frame_ratio"][DOG] == pytest.approx(1 / 3)
    assert all(arrays[k].ndim == 0 for k in ("mean_person_count", "max_person_count"))
    assert arrays["frame_times_s"].dtype == np.float64


def test_no_detection_anywhere_is_the_empty_status():
    result = aggregate_detections(np.array([0.0, 1.0]), [FrameDetections.none()] * 2)
    arrays = result.as_arrays()
    assert result.status == "empty"
    assert arrays["boxes"].shape == (0, 4) and arrays["class_names"].shape == (0,)
    assert arrays["class_names"].dtype.kind == "U"
    assert arrays["class_counts"].shape == (2, N_CLASSES) and arrays["class_counts"].sum() == 0
    assert float(arrays["mean_person_count"]) == 0.0


def test_no_frames_is_empty_too():
    arrays = aggregate_detections(np.zeros(0), []).as_arrays()
    assert arrays["class_counts"].shape == (0, N_CLASSES)
    assert float(arrays["person_frame_ratio"]) == 0.0


def test_frame_times_must_match_the_frames():
    with pytest.raises(DpError) as info:
        aggregate_detections(np.zeros(3), [FrameDetections.none()])
    assert info.value.code == ErrorCode.INTERNAL
