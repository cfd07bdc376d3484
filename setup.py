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
    packages=find_packages(include=["attn_depth", "attn_depth.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16",  # Keras 3
        "keras>=3.0",
        "tensorflow-datasets>=4.9",
        "numpy",
        "absl-py",
        "gin-config>=0.5",
        "h5py",  # keras.applications' .h5 weights and MATLAB v7.3 files
        "scipy",  # MATLAB v5 files (NYU's splits.mat), distance transforms, Sobel
        "scikit-image",  # Canny edges of the iBims boundary metrics
        "ai-edge-litert",  # the TFLite runtime that replaces the deprecated tf.lite.Interpreter
        "pillow",  # image files in and out
        "importlib_resources",  # tensorflow-datasets imports it without declaring it
        "tensorboard",  # tf.summary writers
        "matplotlib",  # tools/figures.py: the paper's figures with axes, legends, colour bars
        "openexr",  # .exr depth of your own RGB-D data
        "opencv-python-headless",  # video files in and out, optical flow of the consistent mode
    ],
    extras_require={
        # DepthEstimator.from_preset("hf://...") and ("kaggle://..."): the hubs' own loaders.
        "hub": ["huggingface_hub", "kagglehub"],
        "test": ["pytest>=7", "huggingface_hub", "kagglehub"],
    },
)
