"""gin bindings that shrink any shipped configuration to seconds on a CPU."""

TINY_MODEL = [
    "build_model.backbone_weights = None",
    "build_model.backbone_blocks = (1, 1, 1, 1)",
    "build_model.backbone_width = 0.125",
    "build_model.dmg_widths = (8, 8, 16, 16)",
    "INPUT_SIZE = (64, 96)",
    "RESIZE_SIZE = (78, 104)",
]


def tiny_rooms(data_dir, train_examples=8, test_examples=4):
  return [
      "train.source = 'synthetic_rooms'",
      f"synthetic_rooms_source.data_dir = '{data_dir}'",
      f"synthetic_rooms_source.num_train_examples = {train_examples}",
      f"synthetic_rooms_source.num_test_examples = {test_examples}",
  ]


def tiny_training(total_steps=2, batch_size=2):
  return [
      f"train.total_steps = {total_steps}",
      f"train.batch_size = {batch_size}",
      "train.checkpoint_every = 1",
      "train.log_every = 1",
      "train.image_summary_every = 0",
      "train.eval_every = 0",
      "train.final_eval = False",
      "train.dfe_learning_rate = (1e-3, 1e-5)",
      "train.dmg_learning_rate = (1e-2, 1e-4)",
  ]
