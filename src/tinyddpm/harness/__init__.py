"""The harness: what trains and measures the denoiser, apart from it.

The library (``tinyddpm`` itself) removes noise: schedules, the diffusion formulas, the U-Net,
the samplers, ``denoise``, the sigma estimators, photos to MNIST form, files and checkpoints.
The harness imports the library; the library never imports the harness (``import
tinyddpm.denoise`` loads none of these modules; ``tests/test_layers.py`` checks it). Only the
entry points reach in, on first use: ``tinyddpm.train`` / ``tinyddpm.TrainConfig`` and the
CLI's ``train`` and ``train-aux`` commands.

- training: :mod:`~tinyddpm.harness.train` (the diffusion model), :mod:`~tinyddpm.harness.runs`
  (the run folder), :mod:`~tinyddpm.harness.optim` (the small trainers' loop),
  :mod:`~tinyddpm.harness.augment`;
- auxiliary models: :mod:`~tinyddpm.harness.classifier` (the judge of identity and FID),
  :mod:`~tinyddpm.harness.vae` (chapter 1), :mod:`~tinyddpm.harness.sigma_trainer`;
- measurement: :mod:`~tinyddpm.harness.evaluate`, :mod:`~tinyddpm.harness.baselines`,
  :mod:`~tinyddpm.harness.supervised`, :mod:`~tinyddpm.harness.analytic`,
  :mod:`~tinyddpm.harness.student` (the student's recipe), :mod:`~tinyddpm.harness.interop`
  (the model under diffusers' schedulers), :mod:`~tinyddpm.harness.export` (the page's ONNX file);
- the book's data: :mod:`~tinyddpm.harness.book_data` and ``results/``, the one folder that
  ``benchmarks/`` writes and the chapters read.
"""
