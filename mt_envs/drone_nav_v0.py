"""Drone navigation: indoor flight from a front depth camera, scored by mean safe flight (MSF).

A dependency-free proxy of the drone experiments of paper 003 (section 5.2) over several maps.

.. figure:: /_static/drone_nav_v0.gif
   :alt: Top-down views of four indoor maps with one drone flying the scripted baseline, its
      camera rays fanning out ahead, and its depth image in a strip below.

   The scripted baseline (steer toward the deepest column) for 30 steps on corridor, pillars,
   rooms and zigzag; below each map, the drone's depth camera.

==========================  ==================================================================
Import                      ``from mt_envs import drone_nav_v0``
Actions                     ``Discrete(25)``: 5 yaw x 5 pitch offsets, 12 = straight ahead;
                            ``continuous_actions=True``: ``Box(-1, 1, (2,))`` (yaw, pitch)
Parallel API                yes (native); AEC through ``drone_nav_v0.env()``
Agents                      ``drone_0 .. drone_{n-1}`` (shared), ``drone_{g * n + i}`` (team)
Observation                 ``Box(0, 1, (rows * cols,), float32)`` depth (default 8 x 32 = 256);
                            ``obs_type="image"``: ``(rows * cols * 3,)`` RGB; plus extras
State                       ``Box(-1, 1, (6 * slots + 1,), float32)``
Batched                     ``mt_envs.make_vec("drone_nav_v0", num_envs=B)``
Default task set            ``drone-4maps``
==========================  ==================================================================

The platform of the paper (PEDRA, on Unreal Engine) cannot be installed here; this is a faithful,
dependency-free proxy (SPECS.md section 7). Each task is a 2.5-D indoor map: axis-aligned boxes and
vertical cylinders, each with its own height range (walls, pillars, tables, shelves, ceiling
beams), a floor and a ceiling, start poses, wall colours and its own **lighting**: depth-sensor
noise, dropout and bias, and the light level of the image observation. Maps are JSON data files
(``mt_envs/drone/maps/``; see :mod:`mt_envs.drone.world` for the format and
:func:`mt_envs.drone.register_map` to add your own).

Maps (``mt_envs.drone.map_names()``)
    ``corridor``: 3 m corridors around two office blocks (a figure-eight loop), cabinets, benches
    and ceiling beams; bright and clean (noise 0.005, dropout 0.002). ``pillars``: a dim hall with
    a staggered grid of 25 pillars, lamp posts and crates under a 4 m ceiling (noise 0.02, dropout
    0.01, bias +0.01, light 0.55). ``rooms``: six furnished rooms joined by 2 m doors (noise 0.01,
    dropout 0.05, bias -0.01). ``zigzag``: two halls joined at both ends, each a zigzag between
    alternating baffles; dark and noisy (noise 0.03, dropout 0.02, bias +0.02, light 0.4).
    ``warehouse`` (extra): rows of 2.5 m shelves under a 6 m ceiling, which a drone may fly over.
    Every map is closed (validated) and has a loop, so a good policy can fly indefinitely.

Camera and observation
    Rays at the centres of a ``rows x cols`` grid over ``fov_h x fov_v`` degrees (default 8 x 32
    over 80 x 45), row 0 at the top and column 0 at the left; the camera stays level. Depth is the
    range along the ray over ``max_range`` (10 m), capped at 1, flattened row-major. The map's
    lighting is then applied from the env's seeded generator: ``clip(depth + bias + noise_std *
    N(0, 1), 0, 1)``, and each ray reads 0 with probability ``dropout`` (an invalid pixel, as real
    depth cameras report). ``obs_type="image"`` gives ``[rows, cols, 3]`` RGB in [0, 1] (channel
    last, flattened row-major): the colour of the surface each ray hits times ``light * (1 - 0.75
    * depth)`` (noisy depth), black where nothing is within range or the ray dropped out. Other
    drones of the same map copy appear as spheres of the drone radius. Optional ``extras``, appended
    in this order: ``"altitude"`` (height above the floor over the room height) and
    ``"last_action"`` (the normalised (yaw, pitch) of the previous action, zeros after a reset; the
    only entries in [-1, 1]). Drones that are done observe zeros in the batched env.

Actions and dynamics
    Discrete action ``a = 5 i + k`` turns the heading by ``(2 - k) / 2 * yaw_max`` (left positive)
    and flies ``step_length`` (0.4 m) at pitch ``(2 - i) / 2 * pitch_max``, where ``yaw_max = 2/5
    fov_h`` (32 degrees) and ``pitch_max = 2/5 fov_v`` (18 degrees): the 5 x 5 grid spans the
    field of view like the image (row ``i`` from the top, column ``k`` from the left), and 12 flies
    straight ahead. Each move adds Gaussian noise of ``angle_noise_deg`` (task field, default 2) to
    the yaw and to the pitch. Continuous actions ``(yaw, pitch)`` in [-1, 1] scale the same ranges
    (the discrete grid is ``{-1, -0.5, 0, 0.5, 1}``); NaN or out-of-range values raise
    ``ValueError`` (never clipped).

Rewards and ends
    The reward is the mean of the smallest 5 % of the clean normalised depths in the centre
    window (default: the central half of the rows and of the columns, 4 x 16 rays, so the 4
    smallest of 64). A drone **terminates** with reward -1 when its move touches an obstacle (the
    swept sphere of ``radius`` 0.2 m against boxes inflated by the radius and cylinders widened by
    it), the floor or the ceiling, or another drone (centres within two radii), or when the reward
    statistic falls under ``crash_distance`` (0.3 m). A drone that collides stops at the point of
    contact. Episodes are **truncated** at the task's ``horizon`` (default 500 steps, 200 m). A
    drone leaves ``agents`` when its own episode ends; the env's episode ends when no drone is
    left.

Mean safe flight
    ``infos[agent]["safe_flight"]`` (horizontal metres flown in the episode, up to the point of
    contact) and ``infos[agent]["crashed"]`` are set at every end of a drone's episode, crash or
    truncation. MSF is their mean over episodes; :mod:`mt_envs.drone.evaluate` reports it per map.

    Scripted baseline (:class:`~mt_envs.drone.policy.DeepestColumnPolicy`, the env's
    ``scripted_policy()``: steer toward the deepest column wide enough for the body, hold mid
    height) against random actions, ``drone-5maps``, 500-step limit (at most 200 m), 20 episodes
    per map, seed 0, one drone (``mt_envs.drone.evaluate.evaluate_msf``):

    ==================  ==================  ===========  ===============  ===========
    map                 scripted MSF (m)    crash rate   random MSF (m)   crash rate
    ==================  ==================  ===========  ===============  ===========
    drone-corridor      199.80 ± 0.01       0.00         3.43 ± 0.57      1.00
    drone-pillars       192.68 ± 13.91      0.05         13.44 ± 4.65     1.00
    drone-rooms         157.04 ± 23.50      0.50         6.59 ± 1.74      1.00
    drone-zigzag        122.66 ± 27.08      0.80         5.00 ± 1.53      1.00
    drone-warehouse     199.49 ± 0.03       0.00         8.57 ± 4.81      1.00
    ==================  ==================  ===========  ===============  ===========

Modes
    ``mode="shared"`` (default): ``n_drones`` drones in one map, the episode's task (sampled per
    episode or ``reset(options={"task": t})``), starting from distinct start poses (plus up to
    ``start_jitter`` metres and ``yaw_jitter_deg`` degrees of jitter). ``mode="team"`` (DCPG's
    setting): drone group ``g`` flies in its own copy of task ``g``'s map, every episode; copies
    never interact.

Infos
    ``task_id`` and ``task`` (training-time information, never in observations), ``action_mask``
    (``int8 [25]``, all ones; discrete actions only), and ``safe_flight`` / ``crashed`` at the
    drone's episode end. ``env.worlds``, ``env.positions``, ``env.headings``, ``env.last_depth``,
    ``env.ray_directions(drone)``, ``env.crashed``, ``env.safe_flight`` and ``env.camera`` expose
    the simulation to renderers and scripted policies.

Arguments
    ``tasks="drone-4maps"``, ``mode="shared"``, ``n_drones=1``, ``sampler="uniform"``,
    ``seed_task=None``, ``obs_type="depth"`` (or ``"image"``), ``extras=()``,
    ``continuous_actions=False``, camera ``rows=8``, ``cols=32``, ``fov_h=80``, ``fov_v=45``,
    ``max_range=10``; drone ``step_length=0.4``, ``radius=0.2``; reward ``crash_distance=0.3``,
    ``centre_window=None``; ``render_mode=None`` (``"rgb_array"``, ``"human"``).

Task parameters (:class:`mt_envs.drone.DroneTask`)
    ``map`` (a map name or a ``.json`` path), ``horizon`` (500), lighting overrides
    ``noise_std``, ``dropout``, ``bias``, ``light`` (``None``: the map's), ``angle_noise_deg`` (2),
    ``start_jitter`` (0.1 m), ``yaw_jitter_deg`` (10).

Registered task sets
    ``drone-4maps`` (corridor, pillars, rooms, zigzag: the paper's Env 0-3), ``drone-5maps`` (plus
    warehouse) and one set per map, ``drone-corridor``, ``drone-pillars``, ``drone-rooms``,
    ``drone-zigzag``, ``drone-warehouse``.

Bad input
    Open maps (a drone could leave the bounds), start poses inside or too close to an obstacle,
    drones that could overlap at the start, more drones than start poses, zero or negative ray
    counts, fields of view or ranges, and NaN or out-of-range continuous actions raise
    ``ValueError`` naming the map element or argument.

Differences from the paper
    PEDRA renders photo-realistic rooms and its drone reads a monocular image; here the camera
    sees ray-cast depth (or a flat-shaded image) of simple geometry, which keeps the proxy fast
    (see ``benchmarks/drone_throughput.py``). The reward, crash rule, action grid and MSF follow
    SPECS.md section 7; PEDRA's exact reward constants and maps are not public in the paper.

Version history
    v0: first release.
"""

from __future__ import annotations

from typing import Any

from pettingzoo import AECEnv
from pettingzoo.utils.conversions import parallel_to_aec

from mt_envs.drone.env import DroneNavEnv
from mt_envs.drone.vector import DroneVectorEnv

ENV_ID = "drone_nav_v0"


def parallel_env(**kwargs: Any) -> DroneNavEnv:
    """The drone navigation ParallelEnv (see the module docstring for arguments)."""
    return DroneNavEnv(**kwargs)


def raw_env(**kwargs: Any) -> AECEnv:
    """The drone navigation env as AEC (``parallel_to_aec`` of the ParallelEnv)."""
    return parallel_to_aec(DroneNavEnv(**kwargs))


env = raw_env


def vector_env(num_envs: int, **kwargs: Any) -> DroneVectorEnv:
    """The native batched drone env (:class:`~mt_envs.drone.DroneVectorEnv`)."""
    return DroneVectorEnv(num_envs, **kwargs)
