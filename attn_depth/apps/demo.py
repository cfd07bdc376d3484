"""The demo page behind `attn-depth demo`: a photo in, its depth out, in the browser (Gradio).

Drop or upload a photo and the page shows its depth (colour map of your choice), a 3-D view of
its point cloud and a bokeh you focus by clicking the photo, and offers the depth as a 16-bit
PNG in millimetres, a `.npy` in metres and a `.ply` point cloud: the files `attn-depth predict`
writes, written by the same code (attn_depth.apps.predict).

The page is served on this machine only (127.0.0.1) and works offline: no share link unless
asked, no analytics and no version check (Gradio's telemetry is off), and the fonts are the ones
Gradio ships. Each photo's files go to a folder of their own: nothing of an earlier photo is
overwritten, and a file that is not a readable image is one message in the page while the page
keeps what it showed.

Gradio is the optional `demo` extra: pip install -c constraints.txt "attn_depth[demo]".
"""

import os
import signal
import sys
import tempfile
import time

import numpy as np

from attn_depth.apps import bokeh as bokeh_lib
from attn_depth.apps import pointcloud
from attn_depth.apps import predict as predict_lib
from attn_depth.core import images as images_lib
from attn_depth.core import visualization
from attn_depth.core.errors import UserError
from attn_depth.serving import presets
from attn_depth.serving.estimator import DepthEstimator

# Where the README's quickstart trains (attn-depth train --gin_file=gin/quickstart.gin
# --model_dir=runs/quickstart): the page opens on it when no --model is given.
QUICKSTART = os.path.join("runs", "quickstart")
CHOOSE_ANOTHER = "another model: attn-depth demo --model=RUN_FOLDER_SAVEDMODEL_OR_PRESET"
COLORMAPS = (visualization.COLORMAP, "viridis", "magma", "plasma", "gray")
DOWNLOADS = ("png16", "npy", "ply")  # attn_depth.apps.predict's outputs offered for download
# The 3-D view draws at most this many points: a browser-side plot of a 12-megapixel photo's
# every pixel would take minutes; the .ply download keeps them all.
VIEW_POINTS = 20_000


def choose_model(model=None):
  """`model` as given, else the quickstart run when it exists; else one line naming --model."""
  if model:
    return model
  if os.path.isdir(QUICKSTART):
    return QUICKSTART
  raise UserError(f"no model: {QUICKSTART} does not exist here (train it as the README's "
                  f"quickstart says) -- name one with --model=RUN_FOLDER_SAVEDMODEL_OR_PRESET")


def load_estimator(model):
  """A DepthEstimator from a training run, a checkpoint, a SavedModel or a preset (a folder,
  hf:// or kaggle://)."""
  if presets.is_preset(model):
    return DepthEstimator.from_preset(model)
  return DepthEstimator.from_path(model)


def gradio():
  """The gradio module, its telemetry off (the environment variable also covers what Gradio
  reads of it at import), or one line saying how to install it."""
  os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
  try:
    import gradio as gr  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise UserError('the demo needs Gradio: pip install -c constraints.txt "attn_depth[demo]"'
                    ) from None
  return gr


class Depths:
  """What the page computes from a photo, each piece by the package's own code. `root`: the
  folder under which every photo's downloads get a folder of their own."""

  def __init__(self, estimator, root):
    self.estimator, self.root = estimator, root

  def photo(self, path):
    """{"rgb", "depth" (metres, [H, W]), "files" (png16, npy, ply paths)} of the image file at
    `path`; images_lib.ImageReadError (one line) if it is not a readable image."""
    rgb = images_lib.read_rgb(path)
    depth = self.estimator.predict(rgb)["depths"][0, ..., 0]
    folder = tempfile.mkdtemp(prefix="photo_", dir=self.root)  # never an earlier photo's
    stem = os.path.splitext(os.path.basename(path))[0] or "photo"
    files = predict_lib.write_outputs(rgb, depth, stem, folder, outputs=DOWNLOADS)
    return {"rgb": rgb, "depth": depth, "files": files}

  @staticmethod
  def picture(depth, colormap):
    """(the depth in `colormap`, pixel for pixel over the photo, "near – far m" line)."""
    picture, (low, high) = images_lib.depth_picture(depth, colormap)
    return picture, f"depth {low:.2f} m (near) to {high:.2f} m (far), colour map {colormap}"

  @staticmethod
  def bokeh(rgb, depth, focus_depth, aperture):
    return bokeh_lib.render_bokeh(rgb, depth, focus_depth, aperture)

  @staticmethod
  def cloud_figure(rgb, depth):
    """A matplotlib figure of the coloured point cloud (NYU's camera scaled to the photo, as
    the .ply), seen from a little above and to the left of the camera."""
    from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel
    step = max(1, int(np.ceil(np.sqrt(depth.size / VIEW_POINTS))))
    camera = pointcloud.Intrinsics.nyu_scaled(*depth.shape)
    camera = pointcloud.Intrinsics(camera.fx / step, camera.fy / step, camera.cx / step,
                                   camera.cy / step)
    points, colours = pointcloud.depth_to_points(depth[::step, ::step], camera,
                                                 rgb[::step, ::step])
    figure = Figure(figsize=(6, 4.5), layout="tight")
    axes = figure.add_subplot(projection="3d")
    # Camera frame: x right, y down, z forward; drawn with z into the page and y up.
    axes.scatter(points[:, 0], points[:, 2], -points[:, 1], c=colours / 255.0, s=1,
                 depthshade=False)
    axes.set_xlabel("x (m)")
    axes.set_ylabel("depth z (m)")
    axes.set_zlabel("-y (m)")
    axes.view_init(elev=15, azim=-65)
    return figure


def focus_at(depth, column, row):
  """The depth in metres at the clicked pixel, or None where there is none there."""
  value = float(depth[int(row), int(column)])
  return value if np.isfinite(value) and value > 0 else None


def default_aperture(depth):
  """predict's default blur radius (bokeh.default_aperture), to the slider's 0.1 px."""
  return round(bokeh_lib.default_aperture(depth.shape), 1)


def _on_photo(gr, depths, path, colormap):
  """Everything a new photo changes, or (a file that is not a readable image) only the status
  message: the page keeps what it showed and the app goes on serving. The upload box is emptied
  either way, ready for the next photo (the status line names this one)."""
  unchanged = (gr.skip(),) * 7
  if not path:
    return (None,) + unchanged + (gr.skip(),)
  name = os.path.basename(path)
  try:
    result = depths.photo(path)
  except images_lib.ImageReadError as error:
    # Named by its upload name, not by Gradio's cache path.
    return (None,) + unchanged + (f"⚠️ {str(error).replace(str(path), name)}",)
  rgb, depth = result["rgb"], result["depth"]
  picture, scale = depths.picture(depth, colormap)
  focus = bokeh_lib.focus_depth_at_centre(depth)
  aperture = default_aperture(depth)
  far = float(np.nanmax(depth))
  return (None, {"rgb": rgb, "depth": depth}, picture, depths.cloud_figure(rgb, depth),
          depths.bokeh(rgb, depth, focus, aperture),
          gr.Slider(value=round(focus, 2), maximum=round(max(far, focus) * 1.05 + 0.05, 2)),
          gr.Slider(value=aperture, maximum=max(50.0, 4 * aperture)), result["files"],
          f"{name}: {rgb.shape[1]}x{rgb.shape[0]} pixels; {scale}")


# Not Gradio's "share" button (a post to Hugging Face's discussions): the page stays offline.
_OFFLINE_BUTTONS = ["download", "fullscreen"]


def _controls(gr):
  """The page's components, by name (elem_ids are what the browser test finds them by)."""
  with gr.Row():
    photo = gr.File(label="Photo: drop it here or click to upload", type="filepath",
                    elem_id="photo")
    depth = gr.Image(label="Depth", elem_id="depth", interactive=False, format="png",
                     buttons=_OFFLINE_BUTTONS)
  status = gr.Markdown("Upload a photo.", elem_id="status")
  colormap = gr.Dropdown(list(COLORMAPS), value=visualization.COLORMAP, label="Colour map",
                         elem_id="colormap")
  with gr.Row():
    cloud = gr.Plot(label="Point cloud (3-D; the .ply below has every pixel)", elem_id="cloud")
    bokeh = gr.Image(label="Bokeh: click where to focus", elem_id="bokeh", interactive=False,
                     format="png", buttons=_OFFLINE_BUTTONS)
  with gr.Row():
    focus = gr.Slider(0.05, 10.0, value=1.0, step=0.01, label="Focus depth (m)",
                      elem_id="focus")
    aperture = gr.Slider(0.0, 50.0, value=5.0, step=0.5, label="Blur radius (px)",
                         elem_id="aperture")
  downloads = gr.File(label="Downloads: depth_mm.png (16-bit, mm), depth.npy (metres), .ply",
                      file_count="multiple", interactive=False, elem_id="downloads")
  return dict(photo=photo, depth=depth, status=status, colormap=colormap, cloud=cloud,
              bokeh=bokeh, focus=focus, aperture=aperture, downloads=downloads)


def build_page(gr, depths, model):
  """The Gradio Blocks of the page for `depths` (a Depths), naming `model` in its header."""
  # Gradio keeps every picture and upload in its cache: a demo left running for days would
  # fill the disk, so what is older than an hour goes (checked hourly).
  with gr.Blocks(title="attn_depth demo", analytics_enabled=False,
                 delete_cache=(3600, 3600)) as page:
    warning = predict_lib.training_data_warning(depths.estimator.network)
    gr.Markdown(f"## Depth from one image (Hao et al. 2018)\nModel: `{model}` -- "
                f"{CHOOSE_ANOTHER}" + (f"\n\n**Note:** {warning}." if warning else ""))
    c = _controls(gr)
    state = gr.State()
    c["photo"].upload(lambda path, cmap: _on_photo(gr, depths, path, cmap),
                      [c["photo"], c["colormap"]],
                      [c["photo"], state, c["depth"], c["cloud"], c["bokeh"], c["focus"],
                       c["aperture"], c["downloads"], c["status"]])
    c["colormap"].change(
        lambda shown, cmap: depths.picture(shown["depth"], cmap)[0] if shown else gr.skip(),
        [state, c["colormap"]], c["depth"])

    def rebokeh(shown, focus, aperture):
      return depths.bokeh(shown["rgb"], shown["depth"], focus, aperture) if shown else gr.skip()

    def pick(shown, aperture, event: gr.SelectData):
      focus = focus_at(shown["depth"], *event.index) if shown else None
      if focus is None:
        return gr.skip(), gr.skip()
      return round(focus, 2), depths.bokeh(shown["rgb"], shown["depth"], focus, aperture)

    for slider in (c["focus"], c["aperture"]):
      slider.release(rebokeh, [state, c["focus"], c["aperture"]], c["bokeh"])
    c["bokeh"].select(pick, [state, c["aperture"]], [c["focus"], c["bokeh"]])
  return page


def serve(model=None, port=7860, share=False, print_fn=print):
  """Serves the page on 127.0.0.1:`port` until interrupted (a public link only with `share`)."""
  model = choose_model(model)
  gr = gradio()
  estimator = load_estimator(model)
  with tempfile.TemporaryDirectory(prefix="attn_depth_demo_") as root:
    page = build_page(gr, Depths(estimator, root), model).queue()
    try:
      _, local_url, share_url = page.launch(
          server_name="127.0.0.1", server_port=port, share=share, quiet=True,
          prevent_thread_lock=True, allowed_paths=[root], ssr_mode=False, mcp_server=False,
          footer_links=[])
    except OSError as error:
      if "empty port" not in str(error):
        raise
      raise UserError(f"--port={port} is in use (another demo?); choose another with "
                      f"--port=N") from None
    print_fn(f"demo of {model} at {local_url}"
             + (f" and {share_url}" if share_url else "") + f" ({CHOOSE_ANOTHER}; Ctrl-C stops)")
    _wait_for_interrupt(page, print_fn)


def _stop(*_):
  raise KeyboardInterrupt


def _wait_for_interrupt(page, print_fn):
  """Until Ctrl-C or a kill (SIGTERM): then the server closes and the photos' folder goes, in
  one line (Gradio's own wait prints two)."""
  # A demo started by another program can inherit SIGINT ignored or blocked (a blocked signal
  # stays blocked across exec, in every thread): the page promises that Ctrl-C stops it.
  for number in (signal.SIGINT, signal.SIGTERM):
    signal.signal(number, _stop)
  signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT, signal.SIGTERM])
  try:
    while page.is_running:
      time.sleep(0.2)  # the server runs in threads of its own
  except KeyboardInterrupt:
    print_fn("demo stopped")
    sys.stdout.flush()  # said before closing, which can take a while on a busy machine
  finally:
    page.close(verbose=False)
