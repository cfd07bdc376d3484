"""The camera the networks learned depth for: NYU Depth V2's Kinect colour camera at 640x480
(0-based principal point: the toolbox's 1-based values minus 1), and pinhole intrinsics."""

import dataclasses

FRAME_HEIGHT, FRAME_WIDTH = 480, 640
# NYU Depth V2's colour camera at 640x480 (toolbox camera_params.m), in pixels.
NYU_FX, NYU_FY, NYU_CX, NYU_CY = 518.857901, 519.469611, 325.582449, 253.736166


@dataclasses.dataclass(frozen=True)
class Intrinsics:
  fx: float
  fy: float
  cx: float
  cy: float

  @classmethod
  def nyu_scaled(cls, height, width):
    """NYU's Kinect colour camera (0-based principal point, module docstring) scaled to an
    image of height x width: what the network learned depth for. An image of another camera or
    aspect ratio is only approximated."""
    sx, sy = width / FRAME_WIDTH, height / FRAME_HEIGHT
    return cls(NYU_FX * sx, NYU_FY * sy, scale_principal_point(NYU_CX - 1.0, sx),
               scale_principal_point(NYU_CY - 1.0, sy))


def scale_principal_point(centre, scale):
  """A 0-based principal point coordinate of an image resized by `scale`: pixel centres, not
  pixel indices, scale (a 640 px row's centre 319.5 becomes 159.5 at 320 px)."""
  return (centre + 0.5) * scale - 0.5
