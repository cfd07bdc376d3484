r"""A page in the browser: drop a photo, get its depth, point cloud, bokeh and downloads.

  attn-depth demo                                    # runs/quickstart, http://127.0.0.1:7860
  attn-depth demo --model=runs/full_r101 --port=8080

--model takes what attn-depth predict takes (a training run, a checkpoint, a SavedModel) or a
preset (a folder, hf:// or kaggle://); without it the page opens on runs/quickstart, the README's
quickstart. The page is served on this machine only and works offline; --share asks Gradio for a
public link. Needs the demo extra: pip install -c constraints.txt "attn_depth[demo]".
"""

from absl import flags

from attn_depth import cli
from attn_depth.apps import demo

_MODEL = flags.DEFINE_string("model", None, "Training run folder, checkpoint, SavedModel or "
                             "preset (folder, hf://, kaggle://); default runs/quickstart.")
_PORT = flags.DEFINE_integer("port", 7860, "Port on 127.0.0.1 the page is served at.")
_SHARE = flags.DEFINE_bool("share", False, "Also a public link through Gradio's share servers "
                           "(default: this machine only, offline).")


def main(argv):
  with cli.tool("demo"):
    if len(argv) > 1:
      raise cli.UserError(f"unexpected arguments {argv[1:]}; photos are uploaded in the page")
    if not 0 < _PORT.value < 65536:
      raise cli.UserError(f"--port={_PORT.value}: expected a port from 1 to 65535")
    demo.serve(_MODEL.value, _PORT.value, _SHARE.value, print_fn=cli.print_flush)
