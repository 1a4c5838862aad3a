"""Development tools shared by the tests, the benchmarks and the demo (not part of cuprum).

Importable from the repository root: pytest runs with that root on
``sys.path``, and ``examples/demo.py`` and ``benchmarks/run.py`` put it there.
"""
