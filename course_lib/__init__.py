"""course_lib: the library behind the Deep Generative Models notebooks.

Students import it; it holds the data sets, the architectures students do not write, the training
loops, metrics, plots and widgets. It holds no solution to any exercise.

Conventions used everywhere in the library:

* Shape letters: B batch, C channels, H height, W width, D latent dimensions, K importance or Monte
  Carlo samples, T diffusion time steps, N data set size.
* Data range: models see images in [-1, 1] (float32, shape (N, C, H, W)); binarized data sets are
  in {0, 1}. :mod:`course_lib.data.ranges` converts to and from [0, 1] and uint8; every metric says
  what it expects.
* Devices are explicit: :func:`course_lib.device.get_device` picks one, and every function that
  creates tensors takes ``device=``.
"""

__version__ = "0.1.0"
