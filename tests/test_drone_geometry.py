"""Drone proxy geometry: ray distances against analytic ones, the fast camera against the
reference caster, swept-sphere collisions, and map validation errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mt_envs.drone import Camera, Lighting, MapGeometry, World, cast_rays, load_map, map_names
from mt_envs.drone.world import world_from_dict, world_to_dict

R = 0.2  # drone radius

WALLS = [
    {"name": "south", "xy": [0, 0, 20, 0.2]},
    {"name": "north", "xy": [0, 9.8, 20, 10]},
    {"name": "west", "xy": [0, 0.2, 0.2, 9.8]},
    {"name": "east", "xy": [19.8, 0.2, 20, 9.8]},
]


def room(boxes=(), cylinders=(), starts=((2, 5, 1.5, 0),), walls=WALLS, **extra) -> World:
    """A 20 x 10 m room, 3 m high, with extra obstacles."""
    data = {
        "name": "test-room",
        "bounds": [0, 0, 20, 10],
        "floor": 0.0,
        "ceiling": 3.0,
        "boxes": [*walls, *boxes],
        "cylinders": list(cylinders),
        "starts": [list(s) for s in starts],
        **extra,
    }
    return world_from_dict(data)


def odd_camera(max_range: float = 50.0) -> Camera:
    """A camera whose middle ray (row 4, column 16) points straight ahead."""
    return Camera(rows=9, cols=33, fov_h=80.0, fov_v=45.0, max_range=max_range)


def depth_of(world: World, camera: Camera, pos, heading: float, others=None) -> np.ndarray:
    geom = MapGeometry(world, camera)
    d, _ = geom.camera_depth(np.array([pos], dtype=float), np.array([heading]), others, radius=R)
    return d[0] * camera.max_range  # metres


def plane_distances(camera: Camera, pos, heading: float, x_planes, y_planes, z_planes):
    """Analytic distance along every camera ray to the nearest of some axis planes ahead."""
    dirs = camera.directions(heading)
    best = np.full(dirs.shape[:2], np.inf)
    for axis, planes in ((0, x_planes), (1, y_planes), (2, z_planes)):
        for p in planes:
            with np.errstate(divide="ignore"):
                t = (p - pos[axis]) / dirs[..., axis]
            best = np.where((t > 0) & (t < best), t, best)
    return best


# -- rays against analytic distances ---------------------------------------------------------
def test_empty_room_walls_floor_and_ceiling_match_planes():
    cam = odd_camera()
    w = room()
    for pos, heading in [((2.0, 5.0, 1.5), 0.0), ((13.3, 2.7, 0.9), 2.2), ((7.0, 8.1, 2.4), -1.0)]:
        got = depth_of(w, cam, pos, heading)
        want = plane_distances(cam, pos, heading, [0.2, 19.8], [0.2, 9.8], [0.0, 3.0])
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_straight_ray_to_wall_box_face_and_cylinder():
    cam = odd_camera()
    mid = (4, 16)
    # The wall ahead: 19.8 - 2 = 17.8 m.
    assert depth_of(room(), cam, (2, 5, 1.5), 0.0)[mid] == pytest.approx(17.8, abs=1e-5)
    # A box face: x = 7 at 5 m.
    w = room(boxes=[{"name": "crate", "xy": [7, 4, 8, 6], "z": [0.5, 2.5]}])
    assert depth_of(w, cam, (2, 5, 1.5), 0.0)[mid] == pytest.approx(5.0, abs=1e-5)
    # Facing north-west at a box corner region: the y = 6 face is 1 m up from y = 5.
    d = depth_of(w, cam, (7.5, 9.0, 1.5), -math.pi / 2)[mid]
    assert d == pytest.approx(3.0, abs=1e-5)
    # A cylinder of radius 0.5 centred 6 m ahead: 5.5 m.
    wc = room(cylinders=[{"name": "pillar", "center": [8, 5], "radius": 0.5}])
    assert depth_of(wc, cam, (2, 5, 1.5), 0.0)[mid] == pytest.approx(5.5, abs=1e-5)


def test_every_ray_against_a_cylinder_matches_the_circle_formula():
    cam = odd_camera()
    cx, cy, rad = 8.0, 5.0, 1.0
    w = room(cylinders=[{"name": "pillar", "center": [cx, cy], "radius": rad}])
    pos, heading = np.array([2.0, 5.0, 1.5]), 0.0
    got = depth_of(w, cam, pos, heading)
    dist = math.hypot(cx - pos[0], cy - pos[1])
    psi = cam.yaw_offsets[None, :]  # angle between each column and the centre direction
    theta = cam.pitches[:, None]
    off = (dist * np.sin(psi)) ** 2
    hits_circle = off <= rad**2
    s = dist * np.cos(psi) - np.sqrt(np.maximum(rad**2 - off, 0.0))
    t_cyl = np.where(hits_circle, s / np.cos(theta), np.inf)
    t_planes = plane_distances(cam, pos, heading, [0.2, 19.8], [0.2, 9.8], [0.0, 3.0])
    want = np.minimum(t_cyl, t_planes)
    assert hits_circle.sum() >= 3  # the test does look at the cylinder
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_partial_height_table_top_is_seen_from_above():
    cam = odd_camera()
    w = room(boxes=[{"name": "table", "xy": [3, 2, 9, 8], "z": [0, 0.8]}])
    pos = np.array([2.0, 5.0, 1.5])
    got = depth_of(w, cam, pos, 0.0)
    dirs = cam.directions(0.0)
    # Rays pitched down hit the top z = 0.8 if that point lies over the table, else the side
    # x = 3 below 0.8, else the room.
    with np.errstate(divide="ignore", invalid="ignore"):  # row 4 is level
        t_top = (0.8 - 1.5) / dirs[..., 2]
        hx = pos[0] + t_top * dirs[..., 0]
        hy = pos[1] + t_top * dirs[..., 1]
    on_top = (dirs[..., 2] < 0) & (hx >= 3) & (hx <= 9) & (hy >= 2) & (hy <= 8)
    want = plane_distances(cam, pos, 0.0, [0.2, 19.8], [0.2, 9.8], [0.0, 3.0])
    t_side = (3 - pos[0]) / dirs[..., 0]  # every column looks east
    zs = pos[2] + t_side * dirs[..., 2]
    ys = pos[1] + t_side * dirs[..., 1]
    on_side = (zs <= 0.8) & (ys >= 2) & (ys <= 8)
    want = np.where(on_side, np.minimum(want, t_side), want)
    want = np.where(on_top, np.minimum(want, t_top), want)
    assert on_top.sum() > 10
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    # Rays level or above pass over the table to the far wall.
    assert got[4, 16] == pytest.approx(17.8, abs=1e-5)


def test_rays_through_an_opening_reach_the_next_obstacle_or_max_range():
    door = [
        {"name": "wall below door", "xy": [7, 0.2, 7.2, 4.5]},
        {"name": "wall above door", "xy": [7, 5.5, 7.2, 9.8]},
    ]
    w = room(boxes=door)
    cam = odd_camera(max_range=50.0)
    d = depth_of(w, cam, (2, 5, 1.5), 0.0)
    assert d[4, 16] == pytest.approx(17.8, abs=1e-5)  # through the door to the east wall
    assert d[4, 0] == pytest.approx(5.0 / math.cos(math.radians(40 - 80 / 66)), abs=1e-5)
    short = odd_camera(max_range=10.0)
    g = MapGeometry(w, short)
    norm, ids = g.camera_depth(np.array([[2.0, 5.0, 1.5]]), np.zeros(1), want_ids=True)
    assert ids is not None
    assert norm[0, 4, 16] == 1.0 and ids[0, 4, 16] == g.id_none  # nothing within 10 m
    assert ids[0, 4, 0] == 5  # the wall below the door (box 5) on the right-hand side
    # A cylinder behind the door is what the straight ray meets next.
    wc = room(boxes=door, cylinders=[{"name": "far pillar", "center": [12, 5], "radius": 0.5}])
    assert depth_of(wc, cam, (2, 5, 1.5), 0.0)[4, 16] == pytest.approx(9.5, abs=1e-5)


def test_other_drones_are_spheres():
    cam = odd_camera()
    other = np.array([[[4.0, 5.0, 1.5]]])
    d = depth_of(room(), cam, (2, 5, 1.5), 0.0, others=other)
    assert d[4, 16] == pytest.approx(2.0 - R, abs=1e-5)
    far = np.full((1, 1, 3), 1e7)
    assert depth_of(room(), cam, (2, 5, 1.5), 0.0, others=far)[4, 16] == pytest.approx(17.8)


@pytest.mark.parametrize("name", map_names())
def test_camera_agrees_with_the_reference_caster_on_every_map(name):
    w = load_map(name)
    cam = Camera()
    geom = MapGeometry(w, cam)
    rng = np.random.default_rng(1)
    x0, y0, x1, y1 = w.bounds
    pos = np.stack(
        [
            rng.uniform(x0, x1, 400),
            rng.uniform(y0, y1, 400),
            rng.uniform(w.floor + 0.1, w.ceiling - 0.1, 400),
        ],
        axis=1,
    )
    pos = pos[w.clearance(pos)[0] > 0.01][:120]
    heading = rng.uniform(-math.pi, math.pi, len(pos))
    depth, ids = geom.camera_depth(pos, heading, want_ids=True)
    assert ids is not None
    dirs = np.stack([cam.directions(h) for h in heading])
    ref, ref_ids = cast_rays(w, pos[:, None, None, :], dirs, cam.max_range)
    np.testing.assert_allclose(depth, ref / cam.max_range, atol=1e-9, rtol=0)
    assert np.mean(ids == ref_ids) > 0.999  # ties at edges may pick either surface
    assert depth.min() >= 0 and depth.max() <= 1


# -- swept-sphere collisions -----------------------------------------------------------------
def sweep(world: World, p0, p1):
    geom = MapGeometry(world, Camera())
    tau, what = geom.sweep(np.array([p0], float), np.array([p1], float), R)
    return float(tau[0]), int(what[0])


def test_sweep_against_wall_box_cylinder_floor_and_ceiling():
    w = room(
        boxes=[{"name": "crate", "xy": [10, 4, 11, 6], "z": [0, 1.0]}],
        cylinders=[{"name": "pillar", "center": [5, 2], "radius": 0.3}],
    )
    # East wall face at x = 19.8, contact when the centre reaches 19.6.
    assert sweep(w, (19.3, 5, 1.5), (19.7, 5, 1.5)) == pytest.approx((0.75, 3))
    assert sweep(w, (19.1, 5, 1.5), (19.5, 5, 1.5))[0] == math.inf
    # Crate top at z = 1.0: moving over it at 1.3 is free, at 1.1 it touches (1.0 + R).
    assert sweep(w, (9.8, 5, 1.3), (10.2, 5, 1.3))[0] == math.inf
    tau, what = sweep(w, (9.5, 5, 1.1), (9.9, 5, 1.1))
    assert what == 4 and tau == pytest.approx((10 - R - 9.5) / 0.4)
    # Pillar: contact at distance 0.3 + R from its axis.
    tau, what = sweep(w, (4.2, 2, 1.5), (4.6, 2, 1.5))
    assert what == 5 and tau == pytest.approx((5 - 0.5 - 4.2) / 0.4)
    # Floor and ceiling: the centre must stay R away.
    geom = MapGeometry(w, Camera())
    assert sweep(w, (3, 5, 0.4), (3.3, 5, 0.1)) == pytest.approx((2 / 3, geom.id_floor))
    assert sweep(w, (3, 5, 2.7), (3.3, 5, 2.9)) == pytest.approx((0.5, geom.id_ceiling))


# -- map files and validation ----------------------------------------------------------------
def test_builtin_maps_load_validate_and_round_trip():
    assert {"corridor", "pillars", "rooms", "zigzag"} <= set(map_names())
    for name in map_names():
        w = load_map(name)
        w.validate(R, 0.1, len(w.starts))
        again = world_from_dict(json.loads(json.dumps(world_to_dict(w))))
        np.testing.assert_allclose(again.boxes, w.boxes)
        np.testing.assert_allclose(again.cylinders, w.cylinders)
        np.testing.assert_allclose(again.starts, w.starts, atol=1e-9)
        assert again.lighting == w.lighting
    lights = {load_map(n).lighting for n in ("corridor", "pillars", "rooms", "zigzag")}
    assert len(lights) == 4  # every map has its own lighting


def test_open_map_is_refused_with_the_gap_location():
    walls = [wall for wall in WALLS if wall["name"] != "east"]
    with pytest.raises(ValueError, match=r"map 'test-room' is open.*near \(20\.0, "):
        room(walls=walls).validate(R)
    # A gap wider than the drone opens the map; one narrower than the drone does not.
    east = [
        {"name": "east a", "xy": [19.8, 0.2, 20, 4.7]},
        {"name": "east b", "xy": [19.8, 5.3, 20, 9.8]},
    ]
    with pytest.raises(ValueError, match="is open"):
        room(walls=[*walls, *east]).validate(R)
    narrow = [
        {"name": "east a", "xy": [19.8, 0.2, 20, 4.95]},
        {"name": "east b", "xy": [19.8, 5.1, 20, 9.8]},
    ]
    room(walls=[*walls, *narrow]).validate(R)
    # A low wall the drone can fly over does not close the map.
    low = {"name": "east low", "xy": [19.8, 0.2, 20, 9.8], "z": [0, 1.5]}
    with pytest.raises(ValueError, match="is open"):
        room(walls=[*walls, low]).validate(R)


def test_start_pose_errors_name_the_obstacle_and_the_starts():
    crate = [{"name": "crate", "xy": [1.5, 4.5, 2.5, 5.5], "z": [0, 2]}]
    with pytest.raises(ValueError, match=r"start 0 at \[2.0, 5.0, 1.5\] is inside 'crate'"):
        room(boxes=crate).validate(R)
    near = [{"name": "crate", "xy": [2.15, 4.5, 3, 5.5]}]
    with pytest.raises(ValueError, match=r"0.150 m from 'crate'.*needs 0.200 m"):
        room(boxes=near).validate(R)
    with pytest.raises(ValueError, match="within 0.200 m of the floor"):
        room(starts=[(2, 5, 0.1, 0)]).validate(R)
    two = room(starts=[(2, 5, 1.5, 0), (2.3, 5, 1.5, 0)])
    two.validate(R, n_drones=1)
    with pytest.raises(ValueError, match=r"starts 0 and 1 are 0.300 m apart.*could overlap"):
        two.validate(R, n_drones=2)
    with pytest.raises(ValueError, match="n_drones=3 is invalid for map 'test-room': it has 2"):
        two.validate(R, n_drones=3)


def test_malformed_elements_are_named():
    with pytest.raises(ValueError, match=r"box 4 \('bad'\).*need x0 < x1"):
        room(boxes=[{"name": "bad", "xy": [5, 5, 4, 6]}])
    with pytest.raises(ValueError, match=r"cylinder 0 \('thin'\): radius=0.0 is invalid"):
        room(cylinders=[{"name": "thin", "center": [5, 5], "radius": 0}])
    with pytest.raises(ValueError, match=r"box 4 \('out'\).*leaves the map bounds"):
        room(boxes=[{"name": "out", "xy": [19, 5, 21, 6]}])
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['colour'\]"):
        room(boxes=[{"name": "x", "xy": [5, 5, 6, 6], "colour": [1, 0, 0]}])
    with pytest.raises(ValueError, match="ceiling=0.0 must be above floor=0.0"):
        world_from_dict(
            {"name": "flat", "bounds": [0, 0, 1, 1], "ceiling": 0, "starts": [[0.5] * 4]}
        )
    with pytest.raises(ValueError, match=r"start 0 .* lies outside the world"):
        room(starts=[(25, 5, 1.5, 0)])
    with pytest.raises(ValueError, match=r"Lighting.dropout=1.0 is invalid"):
        Lighting(dropout=1.0)
    with pytest.raises(ValueError, match=r"colors.wall=\[2.0, 0.0, 0.0\] is invalid"):
        room(colors={"wall": [2, 0, 0]})
    with pytest.raises(KeyError, match="Did you mean 'corridor'"):
        load_map("coridor")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rows": 0}, "rows=0 is invalid"),
        ({"cols": -3}, "cols=-3 is invalid"),
        ({"rows": 2.0}, "rows=2.0 is invalid"),
        ({"fov_h": 0.0}, "fov_h=0.0 is invalid"),
        ({"fov_v": -10}, "fov_v=-10 is invalid"),
        ({"fov_h": 180}, "fov_h=180 is invalid"),
        ({"fov_v": float("nan")}, "fov_v=nan is invalid"),
        ({"max_range": 0}, "max_range=0 is invalid"),
    ],
)
def test_bad_camera_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Camera(**kwargs)


def test_camera_grid_layout():
    cam = Camera()
    assert cam.yaw_offsets[0] > 0 > cam.yaw_offsets[-1]  # column 0 is the leftmost
    assert cam.pitches[0] > 0 > cam.pitches[-1]  # row 0 is the top
    np.testing.assert_allclose(cam.yaw_offsets[[0, -1]], np.radians([38.75, -38.75]))
    np.testing.assert_allclose(cam.pitches[[0, -1]], np.radians([19.6875, -19.6875]))
    d = cam.directions(0.3)
    np.testing.assert_allclose(np.linalg.norm(d, axis=-1), 1.0)


def test_register_map_makes_a_world_loadable_by_name():
    from mt_envs.drone import register_map

    w = room()
    w2 = world_from_dict({**world_to_dict(w), "name": "test-registered-room"})
    register_map(w2, overwrite=True)
    assert load_map("test-registered-room") is w2
    assert "test-registered-room" in map_names()
    with pytest.raises(ValueError, match="is taken; pass overwrite=True"):
        register_map(w2)
    with pytest.raises(ValueError, match="map name 'corridor' is taken"):
        register_map(world_from_dict({**world_to_dict(w), "name": "corridor"}))
