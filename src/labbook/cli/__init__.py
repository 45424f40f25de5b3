"""The ``labbook`` command line: a client of the same library as the Python API."""
