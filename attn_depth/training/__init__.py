"""Training: loss (Eq. 3), poly schedules (Eq. 4), the distributed step, the train loop."""

from attn_depth.training.controller import NonFiniteLossError
from attn_depth.training.controller import StopSignals
from attn_depth.training.controller import TrainingSetupError
from attn_depth.training.distribution import build_strategy
from attn_depth.training.losses import log_l1_per_example
from attn_depth.training.schedules import poly_learning_rate
from attn_depth.training.determinism import configure_determinism
from attn_depth.training.train_lib import train
from attn_depth.training.trainer import Trainer

STOP_EXIT_CODES = StopSignals.EXIT_CODES
