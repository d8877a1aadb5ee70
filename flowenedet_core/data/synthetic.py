"""Procedural street scenes in Cityscapes train ids, deterministic from a seed.

A pinhole camera 1.4 m above a flat road looks down the street: road with lane markings,
sidewalks, terrain, building facades, trees, poles with signs, cars, people and sky, drawn far to
near with a depth buffer. Out-of-distribution objects (shapes and textures no class has) lie on
the road and are labelled in an anomaly mask. Covariate shifts (fog by depth, night, sensor noise,
blur) are applied to the rendered image. A `Street` moved forward frame by frame gives a coherent
drive.

Used for the embedded demo model (training data, the demo drive) — not a benchmark: it measures
whether the product works end to end, not how good a detector is on real roads.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Cityscapes train ids
ROAD, SIDEWALK, BUILDING, POLE, TRAFFIC_SIGN, VEGETATION, TERRAIN, SKY, PERSON, CAR = (
    0, 1, 2, 5, 7, 8, 9, 10, 11, 13)
VOID = 255
SHIFTS = ("fog", "night", "noise", "blur")

CAMERA_HEIGHT = 1.4  # m
ROAD_HALF_WIDTH = 4.0  # m
SIDEWALK_WIDTH = 2.5  # m
FAR = 120.0  # m: the far end of the street
NEAR = 4.0  # m: objects nearer than this have been driven past (or into the blind spot)


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    labels: np.ndarray  # (H, W) uint8 train ids
    anomaly: np.ndarray  # (H, W) uint8: 1 on out-of-distribution objects, else 0


@dataclass(frozen=True)
class Item:
    """Something standing on the ground at lateral x, depth z (m)."""

    kind: str  # car, person, tree, pole, building, anomaly
    x: float
    z: float
    width: float
    height: float
    color: tuple[int, int, int]
    seed: int


class Camera:
    def __init__(self, size: tuple[int, int], horizon: float = 0.42) -> None:
        self.height, self.width = size
        self.horizon = horizon * self.height
        self.focal = 0.9 * self.width

    def project(self, x: float, y: float, z: float) -> tuple[float, float]:
        """World (x right, y up from the road, z ahead) -> pixel (column, row)."""
        return (self.width / 2 + self.focal * x / z,
                self.horizon + self.focal * (CAMERA_HEIGHT - y) / z)


class Street:
    """One street's layout; `render(advance)` draws it with the camera `advance` m further on."""

    def __init__(self, seed: int, anomalies: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.seed = seed
        self.items: list[Item] = []
        self.tint = rng.uniform(0.85, 1.15, 3)
        for side in (-1, 1):  # facades: consecutive buildings along each side
            z = 4.0
            while z < FAR + 200:
                length = rng.uniform(8, 25)
                setback = ROAD_HALF_WIDTH + SIDEWALK_WIDTH + rng.uniform(0.5, 6)
                color = tuple(int(c) for c in rng.integers(60, 200, 3))
                self.items.append(Item("building", side * setback, z, length,
                                       rng.uniform(6, 20), color, int(rng.integers(1 << 30))))
                z += length + rng.uniform(0, 4)
        kinds = ("car", "person", "tree", "pole")
        counts = rng.integers((6, 4, 8, 6), (14, 10, 16, 12))
        for kind, count in zip(kinds, counts, strict=True):
            for _ in range(int(count)):
                self.items.append(self._item(kind, rng))
        for _ in range(anomalies):
            self.items.append(self._item("anomaly", rng))

    @staticmethod
    def _item(kind: str, rng: np.random.Generator) -> Item:
        z = rng.uniform(6, FAR + 150)
        edge = ROAD_HALF_WIDTH + SIDEWALK_WIDTH * rng.uniform(0.2, 0.8)
        side = rng.choice((-1.0, 1.0))
        seed = int(rng.integers(1 << 30))
        if kind == "car":
            color = tuple(int(c) for c in rng.integers(20, 230, 3))
            return Item(kind, side * rng.uniform(1.2, 2.6), z, 1.8, 1.5, color, seed)
        if kind == "person":
            color = tuple(int(c) for c in rng.integers(30, 200, 3))
            return Item(kind, side * edge, z, 0.55, rng.uniform(1.55, 1.9), color, seed)
        if kind == "tree":
            return Item(kind, side * (edge + 0.6), z, rng.uniform(2.5, 4.5),
                        rng.uniform(4, 8), (40, int(rng.integers(90, 150)), 40), seed)
        if kind == "pole":
            return Item(kind, side * (ROAD_HALF_WIDTH + 0.4), z, 0.15, rng.uniform(3, 5),
                        (120, 120, 120), seed)
        # anomaly: lost cargo on the road ahead, approached as the camera drives on
        return Item(kind, rng.uniform(-2.5, 2.5), rng.uniform(12, 20), rng.uniform(2.0, 3.5),
                    rng.uniform(1.0, 2.0), tuple(int(c) for c in rng.integers(0, 256, 3)), seed)

    def render(self, size: tuple[int, int] = (256, 512), advance: float = 0.0
               ) -> tuple[Frame, np.ndarray]:
        """The frame and its depth map (m; inf for the sky)."""
        camera = Camera(size)
        image = np.zeros((*size, 3), np.float32)
        labels = np.full(size, SKY, np.uint8)
        depth = np.full(size, np.inf, np.float32)
        anomaly = np.zeros(size, np.uint8)
        _sky(image, camera)
        _ground(image, labels, depth, camera, advance, self.seed)
        ahead = [(item, item.z - advance) for item in self.items]
        ahead = [(item, z) for item, z in ahead if NEAR < z < FAR]  # nearer: driven past
        for item, z in sorted(ahead, key=lambda pair: -pair[1]):
            _draw(item, z, image, labels, depth, anomaly, camera)
        image *= self.tint[None, None, :]
        return Frame(np.clip(image, 0, 255).astype(np.uint8), labels, anomaly), depth


def _sky(image: np.ndarray, camera: Camera) -> None:
    rows = np.linspace(0, 1, image.shape[0])[:, None]
    image[:] = (np.array([110, 160, 225]) * (1 - 0.4 * rows) + 40 * rows)[:, None, :]


def _ground(image, labels, depth, camera: Camera, advance: float, seed: int) -> None:
    height, width = labels.shape
    rows = np.arange(height)[:, None] + 0.5
    below = rows > camera.horizon + 0.5
    z = np.where(below, camera.focal * CAMERA_HEIGHT / np.maximum(rows - camera.horizon, 1e-3),
                 FAR * 10)
    z = np.broadcast_to(z, (height, width))
    x = (np.arange(width)[None, :] + 0.5 - width / 2) * z / camera.focal
    ground = np.broadcast_to(below, (height, width)) & (z < FAR * 3)
    lateral = np.abs(x)
    rng = np.random.default_rng(seed)
    grain = rng.normal(0, 6, labels.shape).astype(np.float32)[..., None]
    road = ground & (lateral < ROAD_HALF_WIDTH)
    sidewalk = ground & ~road & (lateral < ROAD_HALF_WIDTH + SIDEWALK_WIDTH)
    terrain = ground & ~road & ~sidewalk
    world_z = z + advance
    dashes = road & (np.abs(x) < 0.08) & (np.mod(world_z, 9.0) < 4.0)
    edges = road & (np.abs(lateral - (ROAD_HALF_WIDTH - 0.2)) < 0.08)
    for mask, label, color in ((road, ROAD, (85, 85, 90)), (sidewalk, SIDEWALK, (165, 150, 150)),
                               (terrain, TERRAIN, (120, 140, 70))):
        labels[mask] = label
        image[mask] = np.array(color, np.float32) + grain[mask]
    image[dashes | edges] = (235, 235, 225)
    curb = sidewalk & (np.abs(lateral - ROAD_HALF_WIDTH) < 0.12)
    image[curb] = (200, 195, 190)
    depth[ground] = z[ground]


def _draw(item: Item, z: float, image, labels, depth, anomaly, camera: Camera) -> None:
    rng = np.random.default_rng(item.seed)
    if item.kind == "building":
        _facade(item, z, image, labels, depth, camera, rng)
        return
    left, bottom = camera.project(item.x - item.width / 2, 0.0, z)
    right, top = camera.project(item.x + item.width / 2, item.height, z)
    box = (int(left), int(top), int(np.ceil(right)), int(np.ceil(bottom)))
    if box[2] <= 0 or box[0] >= labels.shape[1] or box[3] <= 0 or box[1] >= labels.shape[0]:
        return
    layer = np.zeros(labels.shape, np.uint8)  # 1: the item's pixels
    colors = np.zeros((*labels.shape, 3), np.float32)
    classes = np.zeros(labels.shape, np.uint8)
    painter = {"car": _car, "person": _person, "tree": _tree, "pole": _pole,
               "anomaly": _anomaly}[item.kind]
    painter(item, box, layer, colors, classes, rng)
    visible = (layer > 0) & (z < depth)
    image[visible] = colors[visible]
    labels[visible] = classes[visible]
    depth[visible] = z
    anomaly[visible] = 1 if item.kind == "anomaly" else 0


def _fill(layer, colors, classes, points, color, label) -> None:
    mask = np.zeros(layer.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(np.asarray(points)).astype(np.int32)], 1)
    layer |= mask
    colors[mask > 0] = color
    classes[mask > 0] = label


def _rect(layer, colors, classes, x0, y0, x1, y1, color, label) -> None:
    _fill(layer, colors, classes, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], color, label)


def _car(item, box, layer, colors, classes, rng) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    body = np.array(item.color, np.float32)
    _rect(layer, colors, classes, x0, y0 + 0.35 * h, x1, y1 - 0.12 * h, body, CAR)
    _rect(layer, colors, classes, x0 + 0.15 * w, y0, x1 - 0.15 * w, y0 + 0.4 * h, body * 0.9, CAR)
    _rect(layer, colors, classes, x0 + 0.22 * w, y0 + 0.08 * h, x1 - 0.22 * w, y0 + 0.36 * h,
          (40, 50, 60), CAR)  # rear window
    for cx in (x0 + 0.2 * w, x1 - 0.2 * w):  # wheels
        _rect(layer, colors, classes, cx - 0.1 * w, y1 - 0.2 * h, cx + 0.1 * w, y1,
              (20, 20, 20), CAR)
    for cx in (x0 + 0.1 * w, x1 - 0.1 * w):  # lights
        _rect(layer, colors, classes, cx - 0.06 * w, y0 + 0.45 * h, cx + 0.06 * w,
              y0 + 0.55 * h, (200, 30, 30), CAR)


def _person(item, box, layer, colors, classes, rng) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    skin = rng.choice([(230, 190, 160), (170, 120, 90), (110, 75, 55)])
    head = (x0 + w / 2, y0 + 0.08 * h)
    mask = np.zeros(layer.shape, np.uint8)
    cv2.ellipse(mask, (int(head[0]), int(head[1])), (max(1, int(0.3 * w)), max(1, int(0.08 * h))),
                0, 0, 360, 1, -1)
    layer |= mask
    colors[mask > 0] = skin
    classes[mask > 0] = PERSON
    _rect(layer, colors, classes, x0, y0 + 0.16 * h, x1, y0 + 0.55 * h, item.color, PERSON)
    legs = tuple(int(c) for c in rng.integers(20, 90, 3))
    _rect(layer, colors, classes, x0 + 0.1 * w, y0 + 0.55 * h, x0 + 0.45 * w, y1, legs, PERSON)
    _rect(layer, colors, classes, x1 - 0.45 * w, y0 + 0.55 * h, x1 - 0.1 * w, y1, legs, PERSON)


def _tree(item, box, layer, colors, classes, rng) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    _rect(layer, colors, classes, x0 + 0.45 * w, y0 + 0.5 * h, x1 - 0.45 * w, y1,
          (90, 70, 45), VEGETATION)
    mask = np.zeros(layer.shape, np.uint8)
    for _ in range(5):
        cx = x0 + w * rng.uniform(0.25, 0.75)
        cy = y0 + h * rng.uniform(0.15, 0.4)
        cv2.circle(mask, (int(cx), int(cy)), max(1, int(w * rng.uniform(0.2, 0.35))), 1, -1)
    layer |= mask
    leaves = np.array(item.color, np.float32) + rng.normal(0, 18, (*layer.shape, 1))
    colors[mask > 0] = leaves[mask > 0]
    classes[mask > 0] = VEGETATION


def _pole(item, box, layer, colors, classes, rng) -> None:
    x0, y0, x1, y1 = box
    w = max(x1 - x0, 1)
    h = y1 - y0
    _rect(layer, colors, classes, x0, y0, x0 + w, y1, item.color, POLE)
    size = max(2, int(0.12 * h))
    cx, cy = x0 + w / 2, y0 + size
    shape = rng.integers(3)
    color = ((220, 30, 30), (30, 80, 200), (240, 200, 20))[int(shape)]
    if shape == 0:  # triangle
        points = [(cx, cy - size), (cx + size, cy + size), (cx - size, cy + size)]
    else:  # square
        points = [(cx - size, cy - size), (cx + size, cy - size), (cx + size, cy + size),
                  (cx - size, cy + size)]
    _fill(layer, colors, classes, points, color, TRAFFIC_SIGN)


def _anomaly(item, box, layer, colors, classes, rng) -> None:
    """An irregular blob with a texture no class has (colour noise, blotches, noisy stripes)."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(5, 11))))
    radii = rng.uniform(0.55, 1.0, angles.size)
    points = np.stack([cx + (x1 - x0) / 2 * radii * np.cos(angles),
                       cy + (y1 - y0) / 2 * radii * np.sin(angles)], axis=1)
    mask = np.zeros(layer.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    noise = rng.uniform(0, 255, (*layer.shape, 3)).astype(np.float32)
    style = rng.integers(3)
    if style == 0:  # colour noise: nothing in the street looks like it
        texture = noise
    elif style == 1:  # camouflage blotches of random colours
        cells = rng.uniform(0, 255, (8, 8, 3)).astype(np.float32)
        texture = cv2.resize(cells, layer.shape[::-1], interpolation=cv2.INTER_NEAREST)
    else:  # stripes in an odd colour pair, overlaid with noise
        rows, cols = np.indices(layer.shape)
        period = max(2, int((x1 - x0) / rng.uniform(3, 7)))
        a = np.array(item.color, np.float32)
        stripes = np.where((((rows + cols) // period) % 2)[..., None] > 0, a, 255 - a)
        texture = 0.5 * stripes + 0.5 * noise
    layer |= mask
    colors[mask > 0] = texture[mask > 0]
    classes[mask > 0] = VOID


def _facade(item, z, image, labels, depth, camera: Camera, rng) -> None:
    """A building wall parallel to the street, from depth z to z + width."""
    near, far = max(z, 1.0), z + item.width
    if far <= 1.0:
        return
    corners = [camera.project(item.x, 0.0, near), camera.project(item.x, 0.0, far),
               camera.project(item.x, item.height, far), camera.project(item.x, item.height,
                                                                         near)]
    mask = np.zeros(labels.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(np.asarray(corners)).astype(np.int32)], 1)
    # depth of each wall pixel from its column: column = cx + f * x / z
    columns = np.arange(labels.shape[1]) + 0.5 - camera.width / 2
    with np.errstate(divide="ignore"):
        wall_z = np.where(np.abs(columns) > 1e-3, camera.focal * item.x / columns, np.inf)
    wall_z = np.broadcast_to(np.where(wall_z > 0, wall_z, np.inf), labels.shape)
    visible = (mask > 0) & (wall_z < depth)
    base = np.array(item.color, np.float32)
    # windows: a grid in wall coordinates (floor height 3 m, window pitch 2.5 m)
    rows = np.arange(labels.shape[0])[:, None] + 0.5
    finite_z = np.where(np.isfinite(wall_z), wall_z, 0.0)
    height_m = CAMERA_HEIGHT - (rows - camera.horizon) * finite_z / camera.focal
    windows = (np.mod(height_m, 3.0) > 1.0) & (np.mod(height_m, 3.0) < 2.2) & \
        (np.mod(finite_z, 2.5) > 0.8) & (height_m > 1.0)
    color = np.where(windows[..., None], base * 0.35 + 20, base)
    image[visible] = color[visible]
    labels[visible] = BUILDING
    depth[visible] = wall_z[visible]


def apply_shift(image: np.ndarray, depth: np.ndarray, shift: str | None, severity: float,
                seed: int = 0) -> np.ndarray:
    """Covariate shift of a rendered frame; severity in (0, 1]."""
    if shift is None:
        return image
    rng = np.random.default_rng(seed)
    frame = image.astype(np.float32)
    if shift == "fog":
        visibility = 400.0 * (1 - severity) + 8.0  # m: severity 1 -> 8 m, 0.2 -> 328 m
        transmission = np.exp(-3.0 * np.minimum(depth, 1e4) / visibility)[..., None]
        frame = frame * transmission + 200.0 * (1 - transmission)
    elif shift == "night":
        frame = 255.0 * (frame / 255.0) ** (1 + 1.5 * severity) * (1 - 0.8 * severity)
        frame *= np.array([0.8, 0.85, 1.1])
        frame += rng.normal(0, 4 + 8 * severity, frame.shape)
    elif shift == "noise":
        frame += rng.normal(0, 40 * severity, frame.shape)
    elif shift == "blur":
        sigma = 0.5 + 4.0 * severity
        frame = cv2.GaussianBlur(frame, (0, 0), sigma)
    else:
        raise ValueError(f"unknown shift {shift!r}; choose from {', '.join(SHIFTS)}")
    return np.clip(frame, 0, 255).astype(np.uint8)


def render_scene(seed: int, size: tuple[int, int] = (256, 512), anomalies: int = 0,
                 shift: str | None = None, severity: float = 0.5, advance: float = 0.0
                 ) -> Frame:
    """One frame of the street `seed` (`anomalies` out-of-distribution objects on the road)."""
    frame, depth = Street(seed, anomalies).render(size, advance)
    return Frame(apply_shift(frame.image, depth, shift, severity, seed), frame.labels,
                 frame.anomaly)
