r"""Benchmark plugins: every module in this package is imported by
:mod:`torch_geometric_unlearn.benchmark.registry`, so an algorithm (or evaluation hook) becomes
available to the CLI by dropping a module here that calls
:func:`~torch_geometric_unlearn.benchmark.registry.register_algorithm` (or appends to
:obj:`~torch_geometric_unlearn.benchmark.runner.RECORD_HOOKS`)."""
