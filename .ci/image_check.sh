#!/usr/bin/env bash
# Builds the Dockerfile as users build it and runs it as the README says, without a Docker
# daemon or registry: podman (Debian's package, runc as the runtime) on a stand-in for
# tensorflow/tensorflow:${TF_VERSION}-gpu -- a Debian bookworm root (debootstrap) with that
# TensorFlow pip-installed, tagged with the official image's name so that the Dockerfile builds
# unchanged. What the stand-in cannot check: CUDA inside the real base image (no GPU here).
#
#   bash .ci/image_check.sh            # called by .ci/run; ~5 minutes once the base exists
#
# The stand-in base is kept in podman's store between runs where the machine keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."
TF_VERSION="$(sed -n 's/^ARG TF_VERSION=//p' Dockerfile)"
BASE="docker.io/tensorflow/tensorflow:${TF_VERSION}-gpu"
IMAGE="localhost/attn_depth:ci"
WORK="${ATTN_DEPTH_IMAGE_WORK:-/var/tmp/attn_depth_image}"
mkdir -p "$WORK"

if ! command -v podman > /dev/null || ! command -v debootstrap > /dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq podman runc debootstrap > /dev/null
fi
# crun fails on this machine's hybrid cgroups; podman's default ulimits exceed the hard limits.
mkdir -p /etc/containers
cat > /etc/containers/containers.conf <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
EOF

if ! podman image exists "$BASE"; then
  echo "image check: making the stand-in for $BASE (once)"
  if [ ! -x "$WORK/root/usr/bin/python3" ]; then
    rm -rf "$WORK/root"
    debootstrap --variant=minbase --include=python3,python3-pip,ca-certificates bookworm \
      "$WORK/root" http://deb.debian.org/debian > "$WORK/debootstrap.log"
  fi
  # The stand-in trusts what this machine trusts (a proxy's CA, if the registry is reached
  # through one), as the official image does on an open network.
  cp /etc/ssl/certs/ca-certificates.crt "$WORK/root/etc/ssl/certs/ca-certificates.crt"
  tar -C "$WORK/root" -c . | podman import - localhost/bookworm-python:ci > /dev/null
  cat > "$WORK/Containerfile.base" <<EOF
FROM localhost/bookworm-python:ci
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt
RUN ln -sf /usr/bin/python3 /usr/bin/python && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED && \
    python -m pip install --no-cache-dir tensorflow==${TF_VERSION}
EOF
  podman build --network=host --pull=never -t "$BASE" -f "$WORK/Containerfile.base" "$WORK" \
    > "$WORK/base_build.log"
fi

echo "image check: building the Dockerfile"
podman build --network=host --pull=never -t "$IMAGE" . > "$WORK/build.log"

echo "image check: the default command"
podman run --rm --network=host "$IMAGE" > "$WORK/cmd.log"
grep -q "attn_depth_full_r101" "$WORK/cmd.log"

echo "image check: the README's first-GPU-day check (without --gpus: its machine part)"
OUT="$WORK/gpu_day"
rm -rf "$OUT"
mkdir -p "$OUT"
podman run --rm --network=host --shm-size=1g -v "$OUT:/out" "$IMAGE" \
  attn-depth benchmark --sections=gpu --json=/out/gpu.json --gpu_markdown=/out/gpu.md \
  > "$WORK/gpu_day.log"
python3 - "$OUT/gpu.json" <<'EOF_PY' || { cat "$WORK/gpu_day.log" >&2; exit 1; }
import json, sys
gpu = json.load(open(sys.argv[1]))["gpu"]
env = gpu["environment"]
assert gpu["skipped"] == "no GPU" and env["gpus"] == [], gpu
assert env["pip_check"]["ok"], "pip check inside the image: " + env["pip_check"]["output"]
assert env["shm_gb"] >= 0.9, f"/dev/shm is {env['shm_gb']} GB with --shm-size=1g"
print(f"image check: pip check in the image ok, /dev/shm {env['shm_gb']:.2f} GB")
EOF_PY

echo "image check: the README's docker run (without --gpus), a short quickstart into runs/"
RUNS="$WORK/runs"
rm -rf "$RUNS"
mkdir -p "$RUNS"
podman run --rm --network=host --shm-size=1g -v "$RUNS:/runs" "$IMAGE" \
  attn-depth train --gin_file=gin/quickstart.gin --model_dir=/runs/quickstart \
  --gin_bindings="train.total_steps = 4" --gin_bindings="train.checkpoint_every = 4" \
  --gin_bindings="train.log_every = 2" --gin_bindings="train.image_summary_every = 0" \
  --gin_bindings="synthetic_rooms_source.num_train_examples = 16" \
  --gin_bindings="synthetic_rooms_source.num_test_examples = 4" \
  --gin_bindings="synthetic_rooms_source.data_dir = '/runs/rooms'" > "$WORK/run.log"
for landed in quickstart/ckpt-4.index quickstart/model_spec.json \
              quickstart/export/saved_model.pb quickstart/export/MODEL_CARD.md \
              quickstart/eval/synthetic_rooms_paper.json; do
  if [ ! -f "$RUNS/$landed" ]; then
    echo "image check: $landed did not land on the host; see $WORK/run.log" >&2
    exit 1
  fi
done
echo "image check: attn-depth reproduce in the container (one miniature row, tiny), results on the host"
podman run --rm --network=host --shm-size=1g -v "$RUNS:/runs" "$IMAGE" \
  attn-depth reproduce --miniature --rows=full --seeds=1 --output_dir=/runs/miniature \
  --gin_bindings="train.total_steps = 4" --gin_bindings="train.image_summary_every = 0" \
  --gin_bindings="synthetic_rooms_source.num_train_examples = 16" \
  --gin_bindings="synthetic_rooms_source.num_test_examples = 4" \
  --gin_bindings="synthetic_rooms_source.data_dir = '/runs/rooms'" > "$WORK/reproduce.log"
for landed in miniature/results.md miniature/results.json miniature/full/seed_0/logs/train.log \
              miniature/figures/fig4.json; do
  if [ ! -f "$RUNS/$landed" ]; then
    echo "image check: $landed did not land on the host; see $WORK/reproduce.log" >&2
    exit 1
  fi
done
grep -q '^| full | 1 | ' "$RUNS/miniature/results.md" || {
  echo "image check: results.md has no row for full; see $WORK/reproduce.log" >&2; exit 1; }
echo "image check: passed (image $IMAGE, base $BASE)"
