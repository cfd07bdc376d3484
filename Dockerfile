# GPU image for training and evaluating attn_depth (see README, "Docker").
#   docker build -t attn_depth .
# TF_VERSION is the TensorFlow that constraints.txt pins (the tested one); another needs a
# constraints file of its own. CI builds this file unchanged: .ci/image_check.sh.
ARG TF_VERSION=2.21.0
FROM tensorflow/tensorflow:${TF_VERSION}-gpu

WORKDIR /attn_depth
COPY setup.py README.md LICENSE constraints.txt attn_depth_cli.py ./
COPY attn_depth ./attn_depth
# The shipped configs before the install: setup.py maps gin/ into the package.
COPY gin ./gin
# The exact versions CI tested (constraints.txt pins the base image's TensorFlow, which pip keeps);
# the onnx extra so that `attn-depth export` (and `attn-depth reproduce`) also write model.onnx.
RUN python -m pip install --no-cache-dir -c constraints.txt -e ".[onnx]"
COPY tools ./tools
COPY tests ./tests
COPY lab ./lab
COPY docs ./docs

# ImageNet weights and datasets live on mounted volumes: /root/.keras and /data.
VOLUME ["/data", "/runs", "/root/.keras"]
CMD ["attn-depth", "summary"]
