# GPU image for training and evaluating attn_depth (see README, "Docker").
#   docker build -t attn_depth .
#   docker build --build-arg TF_VERSION=2.17.0 -t attn_depth:tf2.17 .
ARG TF_VERSION=2.21.0
FROM tensorflow/tensorflow:${TF_VERSION}-gpu

WORKDIR /attn_depth
COPY setup.py README.md ./
COPY attn_depth ./attn_depth
# The base image's TensorFlow satisfies tensorflow>=2.16; pip keeps it.
RUN python -m pip install --no-cache-dir -e .
COPY gin ./gin
COPY tools ./tools
COPY tests ./tests
COPY docs ./docs

# ImageNet weights and datasets live on mounted volumes: /root/.keras and /data.
VOLUME ["/data", "/runs", "/root/.keras"]
CMD ["python", "tools/summary.py"]
