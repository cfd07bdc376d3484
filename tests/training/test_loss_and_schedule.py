"""Eq. 3 and Eq. 4 on hand-computed cases."""

import math

import numpy as np
import pytest
import tensorflow as tf

from attn_depth.training import log_l1_per_example
from attn_depth.training import poly_learning_rate
from attn_depth.training import train_lib


def test_log_l1_over_valid_pixels_only():
  gt = tf.constant([[[[1.0], [0.0]], [[np.nan], [3.0]]]])  # two valid pixels: 1 and 3
  pred = tf.constant([[[[math.e - 1], [5.0]], [[2.0], [3.0]]]])
  expected = (abs(math.log(2) - 1.0) + 0.0) / 2  # |ln(1+1) - ln(e)| and |ln 4 - ln 4|
  np.testing.assert_allclose(log_l1_per_example(gt, pred).numpy(), [expected], rtol=1e-6)


def test_gradient_is_finite_and_zero_on_invalid_pixels():
  gt = tf.constant([[[[2.0], [np.inf]], [[np.nan], [0.0]]]])
  pred = tf.Variable(tf.fill((1, 2, 2, 1), 1.5))
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(log_l1_per_example(gt, pred))
  grad = tape.gradient(loss, pred).numpy()[0, ..., 0]
  assert np.isfinite(grad).all()
  assert grad[0, 0] != 0 and grad[0, 1] == grad[1, 0] == grad[1, 1] == 0


def test_image_without_valid_pixels_has_zero_loss():
  assert log_l1_per_example(tf.zeros((1, 2, 2, 1)), tf.ones((1, 2, 2, 1))).numpy()[0] == 0


@pytest.mark.parametrize("step, expected", [
    (0, 1e-5), (50, (1e-5 - 1e-7) * 0.5 + 1e-7), (100, 1e-7), (250, 1e-7)])
def test_poly_schedule_eq4(step, expected):
  assert float(poly_learning_rate(step, 1e-5, 1e-7, 100)) == pytest.approx(expected, rel=1e-5)


def test_poly_schedule_power():
  assert float(poly_learning_rate(25, 1.0, 0.0, 100, power=2.0)) == pytest.approx(0.5625)


def test_the_test_split_is_opened_up_front_only_when_the_session_reads_it():
  reads = train_lib._reads_test_split  # pylint: disable=protected-access
  # (step, total, final_eval, image_summary_every, eval_every)
  assert reads(0, 600, True, 0, 0)  # the final evaluation
  assert not reads(0, 2, False, 1000, 5000)  # a 2-step run reaches no summary or evaluation
  assert reads(0, 1000, False, 1000, 0)  # an image strip at step 1000, the last
  assert not reads(0, 5000, False, 0, 5000)  # evaluations stop before the last step
  assert reads(0, 5001, False, 0, 5000)
  assert not reads(1000, 1999, False, 1000, 0) and reads(1000, 2000, False, 1000, 0)  # resumed
