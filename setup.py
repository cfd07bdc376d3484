"""attn_depth: Hao et al. 2018, attention guided depth estimation, in TensorFlow 2 / Keras 3."""

from setuptools import find_packages
from setuptools import setup

setup(
    name="attn_depth",
    version="0.1.0",
    description=("Detail Preserving Depth Estimation from a Single Image Using Attention Guided "
                 "Networks (Hao et al., 3DV 2018) in TensorFlow 2 / Keras 3"),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    # The shipped gin configs travel in the wheel as attn_depth/gin: the top-level gin/ folder
    # mapped there, not a copy (attn_depth.config finds them in either place).
    packages=find_packages(include=["attn_depth", "attn_depth.*"]) + ["attn_depth.gin"],
    package_dir={"attn_depth.gin": "gin"},
    package_data={"attn_depth.gin": ["*.gin", "*/*.gin"]},
    # The quiet start-up must run before the package (which loads TensorFlow) is imported.
    py_modules=["attn_depth_cli"],
    entry_points={"console_scripts": ["attn-depth = attn_depth_cli:main"]},
    license="Apache-2.0",
    license_files=["LICENSE"],
    python_requires=">=3.10",
    # Major versions are bounded; constraints.txt pins the exact versions CI tested
    # (pip install -c constraints.txt -e ".[test]").
    install_requires=[
        "tensorflow>=2.16,<3",  # Keras 3
        "keras>=3.0,<4",
        "tensorflow-datasets>=4.9,<5",
        "numpy<3",
        "absl-py<3",
        "gin-config>=0.5,<0.6",
        "h5py<4",  # keras.applications' .h5 weights and MATLAB v7.3 files
        "scipy<2",  # MATLAB v5 files (NYU's splits.mat), distance transforms, Sobel
        "scikit-image<1",  # Canny edges of the iBims boundary metrics
        "ai-edge-litert<3",  # the TFLite runtime that replaces the deprecated tf.lite.Interpreter
        "pillow<14",  # image files in and out
        "pillow-heif>=1.1,<2",  # HEIC/HEIF photos (iPhones' default) through PIL
        "importlib_resources<8",  # tensorflow-datasets imports it without declaring it
        "tensorboard<3",  # tf.summary writers
        "matplotlib<4",  # tools/figures.py: the paper's figures with axes, legends, colour bars
        "openexr<4",  # .exr depth of your own RGB-D data
        "opencv-python-headless<6",  # video files in and out, optical flow of the consistent mode
    ],
    extras_require={
        # DepthEstimator.from_preset("hf://...") and ("kaggle://..."): the hubs' own loaders.
        "hub": ["huggingface_hub<3", "kagglehub<2"],
        # model.onnx from tools/export.py (Keras' exporter goes through tf2onnx), checked in
        # onnxruntime.
        "onnx": ["onnx<2", "tf2onnx<2", "onnxruntime<2"],
        # tools/fuzz.py: coverage-guided fuzzing of the readers of user files.
        "fuzz": ["atheris<4"],
        # `attn-depth demo`: the page in the browser (Gradio; it needs pillow < 13, which is why
        # constraints.txt pins pillow 12).
        "demo": ["gradio>=6.31,<7"],
        # The test suite also executes docs/reproduce_on_a_gpu.ipynb (nbclient, a kernel) and
        # runs every fuzzing target briefly (atheris).
        # pytest-xdist runs the full tier on every core; pytest-timeout turns a hang into a
        # failure with a traceback.
        "test": ["pytest>=7.2,<10", "pytest-xdist>=3.5,<4", "pytest-timeout>=2.2,<3",
                 "huggingface_hub<3", "kagglehub<2", "onnx<2", "tf2onnx<2",
                 "onnxruntime<2", "nbclient<1", "nbformat<6", "ipykernel<8", "atheris<4",
                 "import-linter>=2.17,<3",  # tests/test_layers.py: .importlinter
                 # tests/apps/test_demo.py: the demo page in headless Chromium (the system's
                 # browser; Playwright's own browsers are never downloaded).
                 "gradio>=6.31,<7", "playwright>=1.65,<2"],
    },
)
